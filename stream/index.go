package stream

import "github.com/pushgate/pushgate/models"

// subIndex holds the live subscribers, indexed by the first exact-match
// condition of their filter, so that publishing an event tests only the
// subscribers that may want it: those without such a condition, and those
// whose condition the event meets. With 1,000 subscribers each following
// one user, an event costs a few map lookups, not 1,000 filter tests.
type subIndex struct {
	n   int
	all map[*Sub]struct{}
	by  [models.FilterColumns]map[string]map[*Sub]struct{}
}

// indexKey is where a subscriber is filed.
type indexKey struct {
	col   int
	val   string
	keyed bool
}

func (x *subIndex) add(s *Sub) {
	if _, in := x.bucket(s.key)[s]; in {
		return
	}
	col, val, ok := s.m.IndexKey()
	s.key = indexKey{col, val, ok}
	b := x.bucket(s.key)
	if b == nil {
		b = make(map[*Sub]struct{})
		if ok {
			if x.by[col] == nil {
				x.by[col] = make(map[string]map[*Sub]struct{})
			}
			x.by[col][val] = b
		} else {
			x.all = b
		}
	}
	b[s] = struct{}{}
	x.n++
}

func (x *subIndex) remove(s *Sub) {
	b := x.bucket(s.key)
	if _, in := b[s]; !in {
		return
	}
	delete(b, s)
	x.n--
	if len(b) == 0 && s.key.keyed {
		delete(x.by[s.key.col], s.key.val)
	}
}

func (x *subIndex) bucket(k indexKey) map[*Sub]struct{} {
	if !k.keyed {
		return x.all
	}
	return x.by[k.col][k.val]
}

// match calls f for every subscriber that may want e (f still tests the
// filter). f may remove the subscriber it is given.
func (x *subIndex) match(e *models.Event, f func(*Sub)) {
	for s := range x.all {
		f(s)
	}
	for col := range x.by {
		if x.by[col] == nil {
			continue
		}
		for s := range x.by[col][models.FilterColumnValue(col, e)] {
			f(s)
		}
	}
}

// each calls f for every subscriber.
func (x *subIndex) each(f func(*Sub)) {
	for s := range x.all {
		f(s)
	}
	for col := range x.by {
		for _, b := range x.by[col] {
			for s := range b {
				f(s)
			}
		}
	}
}
