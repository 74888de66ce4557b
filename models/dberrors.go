package models

import (
	"database/sql"
	"database/sql/driver"
	"errors"
	"io"
	"net"
	"syscall"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/mattn/go-sqlite3"
)

// isUniqueViolation reports whether err is a unique or primary-key violation.
func isUniqueViolation(err error) bool {
	var se sqlite3.Error
	if errors.As(err, &se) {
		return se.ExtendedCode == sqlite3.ErrConstraintUnique || se.ExtendedCode == sqlite3.ErrConstraintPrimaryKey
	}
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		return pe.Code == "23505"
	}
	return false
}

// isTransient reports whether err aborted a transaction that may succeed if
// run again: a PostgreSQL deadlock or serialization failure.
func isTransient(err error) bool {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		return pe.Code == "40P01" || pe.Code == "40001"
	}
	return false
}

// isDataError reports whether err was caused by the data of the statement
// that failed, so that running it again can never succeed while the same
// statement with other data can: a constraint, a value out of range or of
// the wrong type, text the database cannot hold, a malformed statement.
// Every other error (a lost connection, a full disk, a read-only file, a
// lock not granted in time) is the database's trouble: it may go away, and
// it fails every write alike.
func isDataError(err error) bool {
	var se sqlite3.Error
	if errors.As(err, &se) {
		switch se.Code {
		case sqlite3.ErrConstraint, sqlite3.ErrMismatch, sqlite3.ErrTooBig, sqlite3.ErrRange, sqlite3.ErrError:
			return true
		}
		return false
	}
	var pe *pgconn.PgError
	if errors.As(err, &pe) && len(pe.Code) == 5 {
		switch pe.Code[:2] {
		case "22", "23", "42":
			return true
		}
	}
	return false
}

// isTrouble reports whether err says the database cannot take writes right
// now, whatever the data: a lost or refused connection, a full disk, a
// read-only or locked file, a lock or statement timeout, a server shutting
// down. Such an error fails every write of its batch alike, and the writes
// may succeed later. Errors of pushgate's own making and data errors
// (isDataError) are not trouble.
func isTrouble(err error) bool {
	if err == nil || isDataError(err) || isTransient(err) {
		return false
	}
	var se sqlite3.Error
	if errors.As(err, &se) {
		return true
	}
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		return true
	}
	var ce *pgconn.ConnectError
	var ne net.Error
	return errors.As(err, &ce) || errors.As(err, &ne) || pgconn.Timeout(err) ||
		errors.Is(err, driver.ErrBadConn) || errors.Is(err, pgconn.ErrConnClosed) ||
		errors.Is(err, sql.ErrConnDone) || errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE)
}
