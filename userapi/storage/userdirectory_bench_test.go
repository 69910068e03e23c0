package storage_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/myelin-im/myelin/internal/sqlutil"
	"github.com/myelin-im/myelin/internal/sqlutil/sqltest"
	"github.com/myelin-im/myelin/userapi/storage"
)

// BenchmarkUserDirectorySearch measures searches over a generated
// directory of MYELIN_BENCH_DIRECTORY_USERS users (skipped when unset;
// docs/performance.md uses 1000000) on SQLite and PostgreSQL (or only the
// one MYELIN_BENCH_DIRECTORY_DB names: sqlite, postgres), with every
// user searchable and with the share-a-room policy, and reports the p50
// and p99 of one search in microseconds:
//
//	MYELIN_BENCH_DIRECTORY_USERS=1000000 go test -tags goolm -run '^$' \
//	  -bench UserDirectorySearch -benchtime 2000x -timeout 60m ./userapi/storage/
func BenchmarkUserDirectorySearch(b *testing.B) {
	n, _ := strconv.Atoi(os.Getenv("MYELIN_BENCH_DIRECTORY_USERS"))
	if n <= 0 {
		b.Skip("set MYELIN_BENCH_DIRECTORY_USERS to the number of users to generate")
	}
	for _, d := range []sqlutil.Dialect{sqlutil.SQLite, sqlutil.Postgres} {
		if only := os.Getenv("MYELIN_BENCH_DIRECTORY_DB"); only != "" && only != string(d) {
			continue
		}
		db := sqltest.Open(b, d)
		s := open(b, db)
		start := time.Now()
		populateDirectory(b, s, n)
		// What autovacuum does on a live PostgreSQL database (statistics,
		// the visibility map for index-only scans), and ANALYZE on SQLite.
		analyze := "ANALYZE"
		if d == sqlutil.Postgres {
			analyze = "VACUUM ANALYZE"
		}
		if _, err := db.Exec(context.Background(), analyze); err != nil {
			b.Fatal(err)
		}
		b.Logf("%s: %d users generated and inserted in %s", d, n, time.Since(start).Round(time.Second))
		for _, restricted := range []bool{false, true} {
			name := string(d) + "/all_users"
			if restricted {
				name = string(d) + "/share_a_room"
			}
			b.Run(name, func(b *testing.B) { benchSearches(b, s, restricted) })
		}
	}
}

// benchQueries are the searches measured, in turn: short and long
// prefixes, common and rare words, several scripts, two words, a user ID
// and a miss.
var benchQueries = []string{
	"a", "li", "maria", "maria gar", "王", "小明", "张伟", "иван", "σοφία", "さくら",
	"@u0004711:bench", "u00047", "zzzzqx",
}

func benchSearches(b *testing.B, s *storage.Storage, restricted bool) {
	ctx := context.Background()
	times := make([]time.Duration, 0, b.N)
	byQuery := map[string][]time.Duration{}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		q := storage.DirectoryQuery{Term: benchQueries[i%len(benchQueries)], Limit: 10,
			Searcher: "@u0000042:bench", Restricted: restricted}
		t0 := time.Now()
		if _, _, err := s.SearchDirectory(ctx, q); err != nil {
			b.Fatal(err)
		}
		d := time.Since(t0)
		times = append(times, d)
		byQuery[q.Term] = append(byQuery[q.Term], d)
	}
	b.StopTimer()
	b.ReportMetric(percentile(times, 0.50), "p50_µs")
	b.ReportMetric(percentile(times, 0.99), "p99_µs")
	for _, term := range benchQueries {
		if ts := byQuery[term]; len(ts) > 0 {
			b.Logf("%-16q p50 %6.0f µs  p99 %6.0f µs", term, percentile(ts, 0.5), percentile(ts, 0.99))
		}
	}
}

// percentile returns the p-th percentile of ts in microseconds.
func percentile(ts []time.Duration, p float64) float64 {
	ts = slices.Clone(ts)
	slices.Sort(ts)
	return float64(ts[int(p*float64(len(ts)-1))].Microseconds())
}

// Name parts of the generated users, in several scripts.
var (
	latinFirst = []string{"maria", "james", "li", "ana", "john", "sofia", "ahmed", "lucas", "emma", "noah",
		"olivia", "liam", "mia", "ali", "elena", "david", "sara", "omar", "anna", "pedro"}
	latinLast = []string{"garcia", "smith", "müller", "rossi", "dubois", "silva", "kowalski", "nguyen",
		"johnson", "lopez", "brown", "martin", "weber", "costa", "novak", "jensen"}
	hanSurname = []rune("王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗")
	hanGiven   = []rune("伟芳娜秀英敏静丽强磊军洋勇艳杰娟涛明超兰霞平刚桂小华")
	cyrillic   = []string{"иван", "ольга", "дмитрий", "анна", "сергей", "наталья", "петров", "смирнова"}
	greek      = []string{"σοφία", "γιώργος", "μαρία", "νίκος", "ελένη"}
	kana       = []string{"さくら", "はると", "ゆい", "そうた", "タナカ", "スズキ"}
	sigWords   = []string{"hello", "coffee", "music", "travel", "code", "生活", "快乐", "cat", "reading", "run"}
)

// benchName returns a display name in one of several scripts.
func benchName(r *rand.Rand) string {
	pick := func(s []string) string { return s[r.IntN(len(s))] }
	switch r.IntN(10) {
	case 0, 1, 2, 3: // Chinese: surname and one or two given characters
		name := []rune{hanSurname[r.IntN(len(hanSurname))], hanGiven[r.IntN(len(hanGiven))]}
		if r.IntN(2) == 0 {
			name = append(name, hanGiven[r.IntN(len(hanGiven))])
		}
		return string(name)
	case 4:
		return strings.ToUpper(pick(cyrillic)[:2]) + pick(cyrillic)[2:] + " " + pick(cyrillic)
	case 5:
		return pick(greek) + " " + pick(greek)
	case 6:
		return pick(kana) + pick(kana)
	default:
		return pick(latinFirst) + " " + pick(latinLast)
	}
}

// populateDirectory inserts n users (@u0000000:bench …) in transactions of
// 5000, a quarter with a signature, each joined to one of n/100 rooms, a
// tenth of them public.
func populateDirectory(b testing.TB, s *storage.Storage, n int) {
	ctx := context.Background()
	r := rand.New(rand.NewPCG(1, 2))
	const batch = 5000
	for start := 0; start < n; start += batch {
		entries := make([]storage.DirectoryEntry, 0, batch)
		for i := start; i < min(start+batch, n); i++ {
			e := storage.DirectoryEntry{UserID: fmt.Sprintf("@u%07d:bench", i), Local: true, DisplayName: benchName(r)}
			if r.IntN(4) == 0 {
				e.Signature = sigWords[r.IntN(len(sigWords))] + " " + sigWords[r.IntN(len(sigWords))]
			}
			entries = append(entries, e)
		}
		if err := s.InsertDirectoryEntries(ctx, entries); err != nil {
			b.Fatal(err)
		}
	}
	rooms := max(n/100, 1)
	if err := s.InsertDirectoryMembers(ctx, benchMembers(n, rooms)); err != nil {
		b.Fatal(err)
	}
	for room := 0; room < rooms; room += 10 {
		if err := s.SetDirectoryRoomJoinPublic(ctx, fmt.Sprintf("!r%d:bench", room), true); err != nil {
			b.Fatal(err)
		}
	}
}

func benchMembers(n, rooms int) []storage.DirectoryMember {
	out := make([]storage.DirectoryMember, 0, n)
	for i := 0; i < n; i++ {
		out = append(out, storage.DirectoryMember{
			RoomID: fmt.Sprintf("!r%d:bench", i%rooms), UserID: fmt.Sprintf("@u%07d:bench", i), Local: true,
		})
	}
	return out
}
