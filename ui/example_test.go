package ui_test

import (
	"fmt"
	"net/http/httptest"

	"github.com/gin-gonic/gin"

	"github.com/pushgate/pushgate/ui"
)

// The inspector mounts on pushgate's gin engine as a handlers.Feature; a
// visitor without a session is sent to the login form.
func ExampleNew() {
	gin.SetMode(gin.ReleaseMode)
	engine := gin.New()
	inspector := ui.New(ui.Options{AdminToken: "admin-secret"})
	inspector.Routes(engine, nil, nil)

	w := httptest.NewRecorder()
	engine.ServeHTTP(w, httptest.NewRequest("GET", "/ui/", nil))
	fmt.Println(w.Code, w.Header().Get("Location"))
	// Output: 303 /ui/login
}
