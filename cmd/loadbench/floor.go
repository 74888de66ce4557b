package main

import (
	"crypto/subtle"
	"database/sql"
	"fmt"
	"io"
	"net/http"
	"os"
	"sync/atomic"
	"time"

	_ "github.com/mattn/go-sqlite3" // the driver pushgate stores with

	"github.com/pushgate/pushgate/handlers"
)

// floor is the durable floor (-floor): net/http that checks the signature,
// stores each push's raw body under its signed URL's nonce (a unique key:
// the least dedupe there is) in an SQLite file (WAL, synchronous=FULL,
// mattn/go-sqlite3, as pushgate) through a group-commit goroutine, and
// answers "success" once the push is committed. It decodes, dispatches and
// records nothing else: what any receiver that commits each push before
// answering must at least spend, on this machine, with this driver.
func floor(addr, dsn string) {
	db, err := sql.Open("sqlite3", dsn+"?_journal_mode=WAL&_synchronous=FULL&_busy_timeout=5000&_txlock=immediate")
	if err == nil {
		db.SetMaxOpenConns(1)
		_, err = db.Exec(`CREATE TABLE IF NOT EXISTS pushes (id INTEGER PRIMARY KEY, nonce_key TEXT NOT NULL UNIQUE, received_at INTEGER NOT NULL, raw BLOB NOT NULL)`)
	}
	var ins *sql.Stmt
	if err == nil {
		ins, err = db.Prepare(`INSERT INTO pushes (nonce_key, received_at, raw) VALUES (?, ?, ?)`)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	type push struct {
		key  string
		raw  []byte
		done chan error
	}
	queue := make(chan push, 1024)
	var commits, stored atomic.Int64 // GET /stats answers them
	go func() {
		batch := make([]push, 0, 256)
		for p := range queue {
			batch = append(batch[:0], p)
		drain:
			for len(batch) < cap(batch) {
				select {
				case p := <-queue:
					batch = append(batch, p)
				default:
					break drain
				}
			}
			refused := 0
			err := func() error {
				tx, err := db.Begin()
				if err != nil {
					return err
				}
				st := tx.Stmt(ins)
				for i, p := range batch {
					if _, err := st.Exec(p.key, time.Now().UnixNano(), p.raw); err != nil {
						batch[i].done <- err // a used nonce: refused alone
						batch[i].done = nil
						refused++
					}
				}
				return tx.Commit()
			}()
			if err == nil {
				commits.Add(1)
				stored.Add(int64(len(batch) - refused))
			}
			for _, p := range batch {
				if p.done != nil {
					p.done <- err
				}
			}
		}
	}()
	ok := []byte("success")
	err = http.ListenAndServe(addr, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodGet && r.URL.Path == "/stats" {
			fmt.Fprintf(w, "commits %d pushes %d\n", commits.Load(), stored.Load())
			return
		}
		q := r.URL.Query()
		ts, nonce := q.Get("timestamp"), q.Get("nonce")
		if subtle.ConstantTimeCompare([]byte(handlers.Signature(token, ts, nonce)), []byte(q.Get("signature"))) != 1 {
			http.Error(w, "invalid signature", http.StatusUnauthorized)
			return
		}
		raw, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		done := make(chan error, 1)
		queue <- push{key: ts + ":" + nonce, raw: raw, done: done}
		if err := <-done; err != nil {
			http.Error(w, err.Error(), http.StatusServiceUnavailable)
			return
		}
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.Write(ok)
	}))
	fmt.Fprintln(os.Stderr, err)
	os.Exit(1)
}
