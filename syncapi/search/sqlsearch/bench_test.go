package sqlsearch

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/myelin-im/myelin/internal/sqlutil"
	"github.com/myelin-im/myelin/internal/sqlutil/sqltest"
	"github.com/myelin-im/myelin/syncapi/search"
)

// TestSearchLoad is the opt-in benchmark of docs/performance.md ("Message
// search: SQL backend"): MYELIN_BENCH_SEARCH_DOCS documents over 1,000 rooms
// in English, Chinese, Japanese and mixed text, indexed in batches of 500,
// then queries over 50 rooms. MYELIN_BENCH_SEARCH_DB picks sqlite or postgres
// (default both).
func TestSearchLoad(t *testing.T) {
	n, _ := strconv.Atoi(os.Getenv("MYELIN_BENCH_SEARCH_DOCS"))
	if n <= 0 {
		t.Skip("set MYELIN_BENCH_SEARCH_DOCS (e.g. 1000000) to run the search load benchmark")
	}
	for _, d := range []sqlutil.Dialect{sqlutil.SQLite, sqlutil.Postgres} {
		if only := os.Getenv("MYELIN_BENCH_SEARCH_DB"); only != "" && only != string(d) {
			continue
		}
		t.Run(string(d), func(t *testing.T) { loadDialect(t, d, n) })
	}
}

const benchRooms, benchBatch = 1000, 500

func loadDialect(t *testing.T, d sqlutil.Dialect, n int) {
	ctx := context.Background()
	u := sqltest.URL(t, d)
	db, err := sqlutil.Open(ctx, u, sqlutil.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	b, err := New(ctx, db, nil)
	if err != nil {
		t.Fatal(err)
	}
	gen := newTextGen(1)
	start := time.Now()
	docs := make([]search.Doc, 0, benchBatch)
	for i := 1; i <= n; i++ {
		docs = append(docs, search.Doc{
			EventID: fmt.Sprintf("$bench%d", i), RoomID: fmt.Sprintf("!room%d:bench", gen.r.IntN(benchRooms)),
			Sender: fmt.Sprintf("@user%d:bench", gen.r.IntN(5000)), Type: "m.room.message", Key: search.KeyBody,
			Text: gen.message(), TS: int64(i) * 1000, Pos: int64(i),
		})
		if len(docs) == benchBatch || i == n {
			if err := b.Index(ctx, docs); err != nil {
				t.Fatal(err)
			}
			docs = docs[:0]
		}
	}
	elapsed := time.Since(start)
	t.Logf("%s: indexed %d docs in %v: %.0f docs/s", d, n, elapsed.Round(time.Millisecond), float64(n)/elapsed.Seconds())
	t.Logf("%s: index size %s", d, indexSize(t, db, u))
	if d == sqlutil.Postgres {
		// What autovacuum does after a bulk load; the planner needs the
		// statistics to choose between the GIN index and the room index.
		if _, err := db.Exec(ctx, `ANALYZE syncapi_search_docs`); err != nil {
			t.Fatal(err)
		}
	}
	for _, term := range []string{"deadline", "project deadline", "明天", "会议 明天", "会議", "サーバー 確認", "the"} {
		for _, order := range []search.Order{search.ByRank, search.ByRecent} {
			benchQueries(t, b, gen, n, term, order)
		}
	}
}

func benchQueries(t *testing.T, b *Backend, gen *textGen, n int, term string, order search.Order) {
	runs, _ := strconv.Atoi(os.Getenv("MYELIN_BENCH_SEARCH_RUNS"))
	if runs < 10 {
		runs = 100
	}
	lat := make([]time.Duration, 0, runs)
	var hits, count int
	for range runs {
		rooms := make([]search.RoomRange, 50)
		for i := range rooms {
			rooms[i] = search.RoomRange{RoomID: fmt.Sprintf("!room%d:bench", gen.r.IntN(benchRooms)), From: 0, To: int64(n)}
		}
		start := time.Now()
		res, err := b.Search(context.Background(), search.Query{Term: term, Rooms: rooms, Order: order, Limit: 10})
		if err != nil {
			t.Fatal(err)
		}
		lat = append(lat, time.Since(start))
		hits += len(res.Hits)
		count += res.Count
	}
	slices.Sort(lat)
	name := map[search.Order]string{search.ByRank: "rank", search.ByRecent: "recent"}[order]
	t.Logf("query %-18q by %-6s p50 %8v p99 %8v (mean count %d, mean hits %d)", term, name,
		lat[runs/2].Round(10*time.Microsecond), lat[runs*99/100].Round(10*time.Microsecond), count/runs, hits/runs)
}

func indexSize(t *testing.T, db *sqlutil.DB, u string) string {
	ctx := context.Background()
	if db.Dialect() == sqlutil.Postgres {
		var size int64
		if err := db.QueryRow(ctx, `SELECT pg_total_relation_size('syncapi_search_docs')`).Scan(&size); err != nil {
			t.Fatal(err)
		}
		return fmt.Sprintf("%.1f MiB (pg_total_relation_size of syncapi_search_docs, with its indexes)", float64(size)/(1<<20))
	}
	if _, err := db.Exec(ctx, `PRAGMA wal_checkpoint(TRUNCATE)`); err != nil {
		t.Fatal(err)
	}
	path := strings.TrimPrefix(u, "sqlite://")
	var total int64
	matches, _ := filepath.Glob(path + "*")
	for _, m := range matches {
		if fi, err := os.Stat(m); err == nil {
			total += fi.Size()
		}
	}
	return fmt.Sprintf("%.1f MiB (database file, which holds only the search tables)", float64(total)/(1<<20))
}

// textGen makes messages: English words by a Zipf distribution, Chinese and
// Japanese runs from a few hundred common characters, and mixtures.
type textGen struct {
	r                *rand.Rand
	en               *rand.Zipf
	zh, ja           *rand.Zipf
	enW              []string
	zhWords, jaWords []string
}

func newTextGen(seed uint64) *textGen {
	r := rand.New(rand.NewPCG(seed, seed))
	enW := strings.Fields(`the to and a of i you it is in that for we on this be with have are not was at
		meeting project deadline tomorrow today lunch release deploy server bug fix test review merge call
		team week friday monday plan update design docs coffee office home remote budget client demo sprint
		please thanks sure ok yes no maybe later soon now again done ready great good bad idea question
		answer issue ticket build pipeline database cache network login password email phone chat room
		message search index query result page order rank time date year month hour minute morning night
		weekend holiday trip flight hotel train ticket price cost money invoice payment contract sign legal
		approve reject send receive open close start stop run walk talk write read listen watch play game`)
	zh := strings.Fields(`的 了 是 我们 你 他 在 不 这个 有 人 好 今天 明天 会议 项目 时间 计划 服务器 测试 发布
		朋友 电话 消息 房间 搜索 结果 天气 下雨 周末 公司 老板 客户 需要 已经 可能 吃饭 见 问题 知道 现在 工作
		学生 同学 开会 下午 上午 晚上 中国 北京 上海 东西 喜欢 觉得 应该 时候 一起 回家 谢谢 没有 什么 怎么`)
	ja := strings.Fields(`の は を に が です ます 明日 会議 時間 予定 東京 大阪 電車 駅 仕事 今日 昨日 来週 月曜
		金曜 確認 資料 送信 返事 ありがとう ございます コーヒー テスト サーバー リリース よろしく お願い します
		した いる ある こと もの それ これ あれ 私 僕 彼 彼女 会社 部長 電話 メール 天気 雨`)
	return &textGen{
		r: r, enW: enW, zhWords: zh, jaWords: ja,
		en: rand.NewZipf(r, 1.1, 2, uint64(len(enW)-1)),
		zh: rand.NewZipf(r, 1.05, 2, uint64(len(zh)-1)),
		ja: rand.NewZipf(r, 1.05, 2, uint64(len(ja)-1)),
	}
}

func (g *textGen) english(words int) string {
	out := make([]string, words)
	for i := range out {
		out[i] = g.enW[g.en.Uint64()]
	}
	return strings.Join(out, " ")
}

// cjk is n words without spaces between them, as CJK text is written.
func (g *textGen) cjk(words []string, z *rand.Zipf, n int) string {
	var sb strings.Builder
	for range n {
		sb.WriteString(words[z.Uint64()])
	}
	return sb.String()
}

func (g *textGen) message() string {
	switch k := g.r.IntN(10); {
	case k < 5:
		return g.english(3 + g.r.IntN(18))
	case k < 7:
		return g.cjk(g.zhWords, g.zh, 3+g.r.IntN(15))
	case k < 9:
		return g.cjk(g.jaWords, g.ja, 3+g.r.IntN(15))
	default:
		return g.english(2+g.r.IntN(6)) + " " + g.cjk(g.zhWords, g.zh, 1+g.r.IntN(5)) + "，" + g.english(1+g.r.IntN(5))
	}
}
