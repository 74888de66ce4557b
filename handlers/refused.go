package handlers

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"net"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/pushgate/pushgate/configs"
	"github.com/pushgate/pushgate/models"
)

// refusals bounds what is kept of refused pushes (configs.Refused): a body
// cap per refusal, a rate per remote address, and a total cap and a
// retention enforced by trimming the oldest.
type refusals struct {
	cfg     configs.Refused
	limiter *addrLimiter
	// sinceTrim counts the bytes kept since the last trim; past a
	// sixteenth of the total cap a trim runs in the background.
	sinceTrim atomic.Int64
	trimming  atomic.Bool
}

func newRefusals(cfg configs.Refused) *refusals {
	d := configs.Default().Refused
	if cfg.BodyCap <= 0 {
		cfg.BodyCap = d.BodyCap
	}
	if cfg.Retention <= 0 {
		cfg.Retention = d.Retention
	}
	if cfg.TotalCap <= 0 {
		cfg.TotalCap = d.TotalCap
	}
	if cfg.Rate <= 0 {
		cfg.Rate = d.Rate
	}
	if cfg.Burst <= 0 {
		cfg.Burst = d.Burst
	}
	return &refusals{cfg: cfg, limiter: newAddrLimiter(float64(cfg.Rate), float64(cfg.Burst))}
}

// reject keeps a refused push (within the bounds of configs.Refused) with
// its reason, then answers status with the reason as plain text. A body
// is kept up to the body cap, with the whole body's length and SHA-256; of
// a 413 only the head read is kept, and its length is what the client
// announced when that is more. Refusals from a remote address over its
// rate are counted, not stored. The save outlives the client and waits at
// most StoreWait; a failed save is logged and counted, and the refusal is
// answered all the same.
func (s *Server) reject(c *gin.Context, status int, reason string, body []byte) {
	s.metrics.pushes.inc("rejected")
	s.metrics.rejected.inc(strconv.Itoa(status))
	defer plainError(c, status, reason)
	if !s.refusals.limiter.allow(remoteHost(c.Request.RemoteAddr), s.now()) {
		s.metrics.refused.inc("rate_limited")
		return
	}
	r := &models.Rejected{
		Account:     accountName(c),
		Reason:      reason,
		Status:      status,
		Query:       c.Request.URL.RawQuery,
		RemoteAddr:  c.Request.RemoteAddr,
		ContentType: c.ContentType(),
		BodySize:    int64(len(body)),

		HTTPRequestID: requestIDOf(c),
	}
	if status == http.StatusRequestEntityTooLarge {
		r.BodySize = max(r.BodySize, c.Request.ContentLength) // the whole was not read
	} else {
		sum := sha256.Sum256(body)
		r.BodySHA256 = hex.EncodeToString(sum[:])
	}
	r.Raw = body[:min(int64(len(body)), s.refusals.cfg.BodyCap)]
	// The save must not depend on the client, which may be gone (a body cut
	// short cancels the request's context), and it is bounded like a
	// push's, so that the refusal is answered even if the database hangs.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(requestContext(c)), s.storeWait())
	defer cancel()
	if err := s.store.SaveRejected(ctx, r); err != nil {
		s.metrics.refused.inc("save_failed")
		s.log.ErrorContext(ctx, "storing rejected push", "account", r.Account, "err", err)
		return
	}
	s.metrics.refused.inc("kept")
	if s.refusals.sinceTrim.Add(int64(len(r.Raw))) > s.refusals.cfg.TotalCap/16 {
		s.trimRefusalsAsync()
	}
}

// trimRefusalsAsync runs PruneRefusals in the background unless one runs.
func (s *Server) trimRefusalsAsync() {
	if !s.refusals.trimming.CompareAndSwap(false, true) {
		return
	}
	go func() {
		defer s.refusals.trimming.Store(false)
		if _, err := s.PruneRefusals(context.Background()); err != nil {
			s.log.Error("pruning refused pushes", "err", err)
		}
	}()
}

// PruneRefusals deletes the refused pushes older than their retention,
// then the oldest until the bodies kept fit the total cap (those counted
// in pushgate_refused_total as dropped_total_cap), and returns how many it
// deleted.
func (s *Server) PruneRefusals(ctx context.Context) (int64, error) {
	s.refusals.sinceTrim.Store(0)
	old, err := s.store.PruneRejected(ctx, s.now().Add(-s.refusals.cfg.Retention))
	s.metrics.refused.add("dropped_retention", old)
	if err != nil {
		return old, err
	}
	over, err := s.store.TrimRejected(ctx, s.refusals.cfg.TotalCap)
	s.metrics.refused.add("dropped_total_cap", over)
	return old + over, err
}

// KeepRefusals runs PruneRefusals every period until ctx ends.
func (s *Server) KeepRefusals(ctx context.Context, period time.Duration) {
	t := time.NewTicker(period)
	defer t.Stop()
	for {
		if n, err := s.PruneRefusals(ctx); err != nil && ctx.Err() == nil {
			s.log.Error("pruning refused pushes", "err", err)
		} else if n > 0 {
			s.log.Info("pruned refused pushes", "count", n)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// remoteHost is the host of a RemoteAddr (the peer: forwarding headers are
// not trusted).
func remoteHost(addr string) string {
	if h, _, err := net.SplitHostPort(addr); err == nil {
		return h
	}
	return addr
}

// addrLimiter is a token bucket per remote address. It holds at most
// maxAddrs addresses; when full it forgets those whose bucket is full again,
// and if none is, a new address is refused (counted, not stored) until one is.
type addrLimiter struct {
	rate, burst float64
	mu          sync.Mutex
	buckets     map[string]*bucket
}

type bucket struct {
	tokens float64
	at     time.Time
}

const maxAddrs = 16384

func newAddrLimiter(rate, burst float64) *addrLimiter {
	return &addrLimiter{rate: rate, burst: burst, buckets: make(map[string]*bucket)}
}

// allow takes a token of addr's bucket at now and reports whether there was one.
func (l *addrLimiter) allow(addr string, now time.Time) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	b, ok := l.buckets[addr]
	if !ok {
		if len(l.buckets) >= maxAddrs {
			l.forgetFull(now)
			if len(l.buckets) >= maxAddrs {
				return false
			}
		}
		b = &bucket{tokens: l.burst, at: now}
		l.buckets[addr] = b
	}
	b.tokens = min(l.burst, b.tokens+now.Sub(b.at).Seconds()*l.rate)
	b.at = now
	if b.tokens < 1 {
		return false
	}
	b.tokens--
	return true
}

// forgetFull drops the buckets that have refilled by now.
func (l *addrLimiter) forgetFull(now time.Time) {
	for a, b := range l.buckets {
		if b.tokens+now.Sub(b.at).Seconds()*l.rate >= l.burst {
			delete(l.buckets, a)
		}
	}
}
