package ui

import (
	"math"
	"net"
	"sync"
	"time"
)

// Failed logins are limited per remote address, so that the admin token
// cannot be guessed by brute force: loginBurst failures, then one more
// every loginEvery; past that the form answers 429 with Retry-After, and
// does not look at the token.
const (
	loginBurst = 5
	loginEvery = time.Minute / loginBurst
	// maxLoginAddrs bounds the addresses remembered; when they are all
	// remembered and none has recovered, logins from new addresses are
	// refused too.
	maxLoginAddrs = 16384
)

// loginLimiter is a token bucket of failed logins per remote address.
type loginLimiter struct {
	mu      sync.Mutex
	buckets map[string]*loginBucket
}

type loginBucket struct {
	tokens float64
	at     time.Time
}

func newLoginLimiter() *loginLimiter {
	return &loginLimiter{buckets: make(map[string]*loginBucket)}
}

// take reserves a login attempt for addr at now and returns 0, or returns
// how long addr must wait when it has none left. The attempt is taken
// before the token is read, so that requests in flight together cannot
// all pass the limit; a successful login gives it back (refund).
func (l *loginLimiter) take(addr string, now time.Time) time.Duration {
	l.mu.Lock()
	defer l.mu.Unlock()
	b, ok := l.buckets[addr]
	if !ok {
		if len(l.buckets) >= maxLoginAddrs {
			l.forgetRecovered(now)
			if len(l.buckets) >= maxLoginAddrs {
				return loginEvery
			}
		}
		b = &loginBucket{tokens: loginBurst, at: now}
		l.buckets[addr] = b
	}
	l.refill(b, now)
	if b.tokens >= 1 {
		b.tokens--
		return 0
	}
	return time.Duration((1 - b.tokens) * float64(loginEvery))
}

// refund gives back the attempt take reserved for addr: the login succeeded.
func (l *loginLimiter) refund(addr string, now time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if b, ok := l.buckets[addr]; ok {
		l.refill(b, now)
		b.tokens = math.Min(loginBurst, b.tokens+1)
	}
}

func (l *loginLimiter) refill(b *loginBucket, now time.Time) {
	if d := now.Sub(b.at); d > 0 {
		b.tokens = math.Min(loginBurst, b.tokens+d.Seconds()/loginEvery.Seconds())
	}
	b.at = now
}

// forgetRecovered drops the addresses whose buckets are full again.
func (l *loginLimiter) forgetRecovered(now time.Time) {
	for a, b := range l.buckets {
		if b.tokens+now.Sub(b.at).Seconds()/loginEvery.Seconds() >= loginBurst {
			delete(l.buckets, a)
		}
	}
}

// remoteHost is the host of a request's RemoteAddr (the peer of the
// connection; forwarding headers are not trusted).
func remoteHost(remoteAddr string) string {
	host, _, err := net.SplitHostPort(remoteAddr)
	if err != nil {
		return remoteAddr
	}
	return host
}
