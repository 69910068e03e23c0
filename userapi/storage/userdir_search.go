package storage

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"sync"

	"github.com/myelin-im/myelin/internal/sqlutil"
)

// DirectoryQuery is one user directory search.
type DirectoryQuery struct {
	Term  string
	Limit int
	// Searcher is the searching user's ID.
	Searcher string
	// Restricted limits the results to users who share a room with the
	// searcher and users joined to public or world-readable rooms.
	Restricted bool
}

// SearchDirectory returns up to q.Limit users matching q.Term, and whether
// more matched.
//
// Ranking: the longest word of the search drives an ordered scan of the
// (term, user_id) index; users come in the order of their matching term,
// so a user whose word equals the searched word comes before one whose word
// only starts with it ("ali" before "alice"), then alphabetically by term,
// then by user ID. The other words must each be a prefix of another term of
// the same user. The scan reads the index in pages and stops once it has
// one user more than the limit: no query reads more than it returns, plus
// the users the other words or the visibility rule filter out.
func (s *Storage) SearchDirectory(ctx context.Context, q DirectoryQuery) ([]DirectoryEntry, bool, error) {
	words := queryTerms(q.Term)
	if len(words) == 0 || q.Limit <= 0 {
		return nil, false, nil
	}
	driver := 0
	for i, w := range words {
		if len(w) > len(words[driver]) {
			driver = i
		}
	}
	words[0], words[driver] = words[driver], words[0]
	ids, cut, err := s.scanTerms(ctx, words, q)
	if err != nil {
		return nil, false, err
	}
	limited := cut || len(ids) > q.Limit
	if limited {
		ids = ids[:q.Limit]
	}
	entries, err := s.directoryEntries(ctx, ids)
	return entries, limited, err
}

// maxScanned bounds the index entries one search examines. Only searches
// whose other words or visibility rule reject most candidates get near it
// (a one-letter search with search_all_users=false by a user who sees few
// others); they then end with what they found and limited set, so the
// client asks for more precision.
const maxScanned = 50000

// scanTerms returns up to q.Limit+1 distinct matching user IDs in rank
// order, and whether it stopped at maxScanned.
func (s *Storage) scanTerms(ctx context.Context, words []string, q DirectoryQuery) ([]string, bool, error) {
	query := searchSQL(len(words)-1, q.Restricted)
	// A window a little larger than the limit, as one user may match by
	// two terms; much larger when other words or the visibility rule
	// reject candidates.
	window := 2 * (q.Limit + 1)
	if len(words) > 1 || q.Restricted {
		window = 8 * (q.Limit + 1)
	}
	// Keyset paging over windows of the index: each window starts after
	// ($1, $2) — first after (word, "") — and stops before $3, the end of
	// the word's range; the rows come with whether the user matches.
	args := []any{words[0], "", prefixEnd(words[0]), window}
	for _, w := range words[1:] {
		args = append(args, w, prefixEnd(w))
	}
	if q.Restricted {
		args = append(args, q.Searcher)
	}
	seen := map[string]bool{}
	var ids []string
	for scanned := 0; ; {
		type hit struct {
			term, user string
			ok         bool
		}
		hits, err := sqlutil.Select(ctx, s.db, func(sc sqlutil.Scanner) (hit, error) {
			var h hit
			return h, sc.Scan(&h.term, &h.user, &h.ok)
		}, query, args...)
		if err != nil {
			return nil, false, fmt.Errorf("storage: searching the directory: %w", err)
		}
		for _, h := range hits {
			if h.ok && !seen[h.user] {
				seen[h.user] = true
				ids = append(ids, h.user)
				if len(ids) > q.Limit {
					return ids, false, nil
				}
			}
		}
		scanned += len(hits)
		if len(hits) < window {
			return ids, false, nil
		}
		if scanned >= maxScanned {
			return ids, true, nil
		}
		last := hits[len(hits)-1]
		args[0], args[1] = last.term, last.user
		// Rejections: read larger windows.
		window = min(window*4, 4096)
		args[3] = window
	}
}

var searchQueries sync.Map // searchKey → string

type searchKey struct {
	others     int
	restricted bool
}

// searchSQL returns the search statement: a window of the term index for
// the driving word ($1, $2: the (term, user_id) to continue after; $3: the
// end of the word's range; $4: the window's size), each row with whether
// the user matches the other words ($5 … as ranges) and, when restricted,
// is visible to the searcher (the last argument). The lower bound is one
// row comparison only: next to a scalar bound on term, PostgreSQL starts
// the index scan at the row bound. The texts are few (maxQueryWords × 2)
// and stay prepared.
func searchSQL(others int, restricted bool) string {
	key := searchKey{others, restricted}
	if q, ok := searchQueries.Load(key); ok {
		return q.(string)
	}
	var conds []string
	n := 5
	for i := 0; i < others; i++ {
		lo, hi := "$"+strconv.Itoa(n), "$"+strconv.Itoa(n+1)
		n += 2
		// "o.term <> t.term" changes no answer (two words that are
		// prefixes of one term are one a prefix of the other, and
		// queryTerms keeps only the longer) but keeps the lookup per row:
		// without it PostgreSQL may hash every user matching the word.
		conds = append(conds, `EXISTS (SELECT 1 FROM userapi_user_directory_terms o WHERE o.user_id = t.user_id AND o.term >= `+
			lo+` AND o.term < `+hi+` AND o.term <> t.term)`)
	}
	if restricted {
		me := "$" + strconv.Itoa(n)
		// Each candidate's few rooms, each looked up by primary key: public,
		// or shared with the searcher (not counting oneself). As above,
		// "r.room_id <> t.term" (a room ID never equals a term: terms are
		// words or user IDs) keeps PostgreSQL from hashing every visible
		// membership instead of looking up the window's users.
		conds = append(conds, `EXISTS (SELECT 1 FROM userapi_user_directory_rooms r WHERE r.user_id = t.user_id
			AND r.room_id <> t.term AND (
			EXISTS (SELECT 1 FROM userapi_user_directory_public_rooms p
				WHERE p.room_id = r.room_id AND (p.public_join OR p.world_readable))
			OR (r.user_id <> `+me+` AND EXISTS (SELECT 1 FROM userapi_user_directory_rooms m
				WHERE m.user_id = `+me+` AND m.room_id = r.room_id))))`)
	}
	ok := "TRUE"
	if len(conds) > 0 {
		ok = "CASE WHEN " + strings.Join(conds, " AND ") + " THEN TRUE ELSE FALSE END"
	}
	q := `SELECT t.term, t.user_id, ` + ok + ` FROM (SELECT term, user_id FROM userapi_user_directory_terms
		WHERE (term, user_id) > ($1, $2) AND term < $3 ORDER BY term, user_id LIMIT $4) AS t ORDER BY t.term, t.user_id`
	q2, _ := searchQueries.LoadOrStore(key, q)
	return q2.(string)
}

// directoryEntries reads the entries of ids, in the order of ids.
func (s *Storage) directoryEntries(ctx context.Context, ids []string) ([]DirectoryEntry, error) {
	if len(ids) == 0 {
		return nil, nil
	}
	rows, err := sqlutil.Select(ctx, s.db, func(sc sqlutil.Scanner) (DirectoryEntry, error) {
		var e DirectoryEntry
		return e, sc.Scan(&e.UserID, &e.Local, &e.DisplayName, &e.AvatarURL, &e.Signature)
	}, `SELECT user_id, is_local, display_name, avatar_url, signature FROM userapi_user_directory WHERE user_id = ANY($1)`,
		sqlutil.List(ids))
	if err != nil {
		return nil, fmt.Errorf("storage: reading directory entries: %w", err)
	}
	byID := make(map[string]DirectoryEntry, len(rows))
	for _, e := range rows {
		byID[e.UserID] = e
	}
	out := make([]DirectoryEntry, 0, len(ids))
	for _, id := range ids {
		if e, ok := byID[id]; ok {
			out = append(out, e)
		}
	}
	return out, nil
}
