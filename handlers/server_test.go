package handlers_test

import (
	"strings"
	"testing"

	"github.com/pushgate/pushgate/handlers"
)

// TestNewMissingDeps checks that New reports what Deps lacks instead of
// panicking.
func TestNewMissingDeps(t *testing.T) {
	srv, err := handlers.New(handlers.Deps{})
	if err == nil || srv != nil {
		t.Fatalf("New(Deps{}) = %v, %v, want an error", srv, err)
	}
	if want := "Deps lacks Config, Store, Mux"; !strings.Contains(err.Error(), want) {
		t.Errorf("New(Deps{}) error = %q, want it to contain %q", err, want)
	}
}
