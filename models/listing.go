package models

import (
	"fmt"
	"slices"
	"strings"

	"gorm.io/gorm"
)

// ListBodyCap is how many bytes of each stored body (raw, reply; payload
// whole or not at all) a listing carries, with the body's length: a listing
// of MaxPageSize rows costs at most a few MiB whatever was stored. The whole
// body is fetched one row at a time (GetEvent, GetRejected).
const ListBodyCap = 1024

// byteLen is the SQL length in bytes of a bytes column.
func (s *Store) byteLen(col string) string {
	if s.driver == DriverPostgres {
		return "octet_length(" + col + ")"
	}
	return "length(CAST(" + col + " AS BLOB))"
}

// headOf selects the first ListBodyCap bytes of col as col, and its length
// as col_len: the database cuts it, so no whole body is read.
func (s *Store) headOf(col string) string {
	expr := col
	if s.driver != DriverPostgres {
		expr = "CAST(" + col + " AS BLOB)"
	}
	return fmt.Sprintf("substr(%s, 1, %d) AS %s, %s AS %s_len", expr, ListBodyCap, col, s.byteLen(col), col)
}

// wholeIfSmall selects col when it is at most ListBodyCap bytes, else NULL,
// and its length as col_len.
func (s *Store) wholeIfSmall(col string) string {
	return fmt.Sprintf("CASE WHEN %[1]s <= %[2]d THEN %[3]s END AS %[3]s, %[1]s AS %[3]s_len", s.byteLen(col), ListBodyCap, col)
}

// listColumns is the select list of a listing of table: every column but the
// bodies, which come cut (headOf) or whole if small (wholeIfSmall).
func (s *Store) listColumns(plain []string, heads []string, small []string) string {
	parts := append([]string(nil), plain...)
	for _, c := range heads {
		parts = append(parts, s.headOf(c))
	}
	for _, c := range small {
		parts = append(parts, s.wholeIfSmall(c))
	}
	return strings.Join(parts, ", ")
}

// columnsOf lists the migrated columns of model's table, but except.
func (s *Store) columnsOf(model any, except ...string) []string {
	stmt := &gorm.Statement{DB: s.db}
	if err := stmt.Parse(model); err != nil {
		panic(fmt.Sprintf("models: parse %T: %v", model, err)) // a model of this package: a bug
	}
	var out []string
	for _, f := range stmt.Schema.Fields {
		if f.DBName != "" && !f.IgnoreMigration && !slices.Contains(except, f.DBName) {
			out = append(out, f.DBName)
		}
	}
	return out
}

// eventListColumns: every column of events but raw and reply (cut) and
// payload (whole if small).
func (s *Store) eventListColumns() string {
	s.listColsOnce.Do(s.initListColumns)
	return s.eventCols
}

// rejectedListColumns: every column of rejected_pushes, raw cut.
func (s *Store) rejectedListColumns() string {
	s.listColsOnce.Do(s.initListColumns)
	return s.rejectedCols
}

func (s *Store) initListColumns() {
	s.eventCols = s.listColumns(s.columnsOf(&Event{}, "raw", "reply", "payload"), []string{"raw", "reply"}, []string{"payload"})
	s.rejectedCols = s.listColumns(s.columnsOf(&Rejected{}, "raw"), []string{"raw"}, nil)
}
