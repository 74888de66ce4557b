package bridge

import (
	"testing"

	"github.com/pushgate/pushgate/models"
)

func TestHub(t *testing.T) {
	t.Parallel()
	h := newHub()
	a1, a2, b := h.watch("a"), h.watch("a"), h.watch("b")
	if a1 != a2 || a1 == b {
		t.Fatal("waiters on one id must share a slot, others not")
	}
	if n := h.waiting(); n != 2 {
		t.Errorf("waiting = %d, want 2", n)
	}
	if h.wake("c", nil) {
		t.Error("wake(c) found waiters")
	}
	res := &models.Result{RequestID: "a"}
	if !h.wake("a", res) {
		t.Error("wake(a) found nobody")
	}
	select {
	case <-a1.ch:
		if a1.res != res {
			t.Error("woken slot lacks the result")
		}
	default:
		t.Fatal("slot a not closed")
	}
	h.unwatch("a", a1) // after the wake: harmless
	h.unwatch("a", a2)
	again := h.watch("a")
	if again == a1 {
		t.Error("a woken slot was reused")
	}
	h.unwatch("a", again)
	h.unwatch("b", b)
	if n := h.waiting(); n != 0 {
		t.Errorf("waiting after unwatch = %d, want 0", n)
	}
	c := h.watch("c")
	h.wakeAll()
	select {
	case <-c.ch:
		if c.res != nil {
			t.Error("wakeAll handed a result")
		}
	default:
		t.Fatal("wakeAll left slot c open")
	}
}
