package resolve

import "container/list"

// lru is a map bounded to limit entries that evicts the least recently used
// one. It is not safe for concurrent use: the Resolver's mutex guards it.
type lru[K comparable, V any] struct {
	limit   int
	items   map[K]*list.Element
	order   *list.List // of *lruItem[K, V], most recently used at the back
	evicted func(K, V) // called for each evicted entry; may be nil
}

type lruItem[K comparable, V any] struct {
	key K
	val V
}

func newLRU[K comparable, V any](limit int, evicted func(K, V)) *lru[K, V] {
	return &lru[K, V]{limit: limit, items: make(map[K]*list.Element), order: list.New(), evicted: evicted}
}

func (c *lru[K, V]) get(k K) (V, bool) {
	e, ok := c.items[k]
	if !ok {
		var zero V
		return zero, false
	}
	c.order.MoveToBack(e)
	return e.Value.(*lruItem[K, V]).val, true
}

func (c *lru[K, V]) put(k K, v V) {
	if e, ok := c.items[k]; ok {
		e.Value.(*lruItem[K, V]).val = v
		c.order.MoveToBack(e)
		return
	}
	c.items[k] = c.order.PushBack(&lruItem[K, V]{key: k, val: v})
	for c.order.Len() > c.limit {
		it := c.order.Remove(c.order.Front()).(*lruItem[K, V])
		delete(c.items, it.key)
		if c.evicted != nil {
			c.evicted(it.key, it.val)
		}
	}
}

func (c *lru[K, V]) remove(k K) {
	if e, ok := c.items[k]; ok {
		c.order.Remove(e)
		delete(c.items, k)
	}
}

func (c *lru[K, V]) each(f func(K, V)) {
	for e := c.order.Front(); e != nil; e = e.Next() {
		it := e.Value.(*lruItem[K, V])
		f(it.key, it.val)
	}
}
