package handlers

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/pushgate/pushgate/models"
)

// healthz answers 200 when the database answers and the store's writer can
// commit (models.Store.WriterHealth: its last commit, or a probe write when
// idle), 503 otherwise. It recovers by itself once the cause is gone. The
// route is unauthenticated, so its body says only what failed, never the
// database's own error (which may name the DSN, host, user or database):
// that goes to the log.
func (s *Server) healthz(c *gin.Context) {
	ctx, cancel := context.WithTimeout(c.Request.Context(), 2*time.Second)
	defer cancel()
	var reason string
	err := s.store.Ping(ctx)
	switch {
	case errors.Is(err, models.ErrClosed):
		reason = "store closed"
	case err != nil:
		reason = "database unreachable"
	default:
		err = s.store.WriterHealth(ctx)
		switch {
		case errors.Is(err, models.ErrWriterStuck):
			reason = "writes are not committing in time"
		case err != nil:
			reason = "writes are failing"
		}
	}
	if err != nil {
		s.log.Warn("health check failed", "reason", reason, "err", err)
		c.JSON(http.StatusServiceUnavailable, gin.H{"status": "unavailable", "database": s.store.Driver(), "reason": reason, "accounts": s.Accounts()})
		return
	}
	c.JSON(http.StatusOK, gin.H{"status": "ok", "database": s.store.Driver(), "accounts": s.Accounts()})
}
