package store

import (
	"context"
	"database/sql/driver"
	"errors"
	"io"
	"net"
	"strings"
	"syscall"

	"github.com/go-sql-driver/mysql"
	"gorm.io/gorm"
	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/keycard/keycard/auth"
)

// MySQL server error numbers keycard reacts to.
const (
	mysqlDuplicateEntry    = 1062
	mysqlTooManyConns      = 1040
	mysqlLockWaitTimeout   = 1205
	mysqlDeadlock          = 1213
	mysqlServerShutdown    = 1053
	mysqlConnKilled        = 1927 // MariaDB: connection was killed
	mysqlQueryInterrupted  = 1317
	mysqlReadOnly          = 1290
	mysqlTiDBWriteConflict = 9007
)

// translate turns driver errors into the domain's error kinds. Nothing of
// the driver's message reaches a client: unknown errors become Internal,
// whose message is generic.
func translate(err error) error {
	if err == nil {
		return nil
	}
	var domain *auth.Error
	if errors.As(err, &domain) {
		return err
	}
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return auth.ErrNotFound
	}
	if conflict := uniqueViolation(err); conflict != nil {
		return conflict
	}
	if unavailable(err) {
		return auth.Unavailable(err)
	}
	return auth.Internal(err)
}

// uniqueViolation maps a unique-index violation to the field it concerns.
func uniqueViolation(err error) error {
	var msg string
	var myErr *mysql.MySQLError
	var liteErr *sqlite.Error
	switch {
	case errors.As(err, &myErr) && myErr.Number == mysqlDuplicateEntry:
		// The message quotes the conflicting value, which the user chose
		// (a username "email_key"); only the key name after it is ours.
		msg = myErr.Message[strings.LastIndex(myErr.Message, " for key ")+1:]
	case errors.As(err, &liteErr) && (liteErr.Code() == sqlite3.SQLITE_CONSTRAINT_UNIQUE || liteErr.Code() == sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY):
		msg = liteErr.Error()
	default:
		return nil
	}
	switch {
	case strings.Contains(msg, "email_key"):
		return auth.ErrEmailTaken
	case strings.Contains(msg, "username_key"):
		return auth.ErrUsernameTaken
	case strings.Contains(msg, "credential_id"):
		return auth.ErrPasskeyRegistered
	default:
		return auth.Internal(err)
	}
}

// unavailable reports errors that mean "the database cannot answer now"
// rather than "this request is wrong": the client should retry.
func unavailable(err error) bool {
	if errors.Is(err, driver.ErrBadConn) || errors.Is(err, mysql.ErrInvalidConn) ||
		errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) ||
		errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ECONNRESET) ||
		errors.Is(err, syscall.EPIPE) || errors.Is(err, net.ErrClosed) {
		return true
	}
	var netErr net.Error
	if errors.As(err, &netErr) {
		return true
	}
	if strings.Contains(err.Error(), "sql: database is closed") {
		return true
	}
	var myErr *mysql.MySQLError
	if errors.As(err, &myErr) {
		switch myErr.Number {
		case mysqlTooManyConns, mysqlLockWaitTimeout, mysqlDeadlock, mysqlServerShutdown,
			mysqlConnKilled, mysqlQueryInterrupted, mysqlReadOnly, mysqlTiDBWriteConflict:
			return true
		}
	}
	var liteErr *sqlite.Error
	if errors.As(err, &liteErr) {
		switch liteErr.Code() & 0xff {
		case sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED, sqlite3.SQLITE_IOERR, sqlite3.SQLITE_FULL, sqlite3.SQLITE_CANTOPEN:
			return true
		}
	}
	return false
}

// retryable reports transaction failures that a fresh attempt can cure: a
// lost deadlock or write conflict. SQLITE_BUSY is not one: busy_timeout has
// already waited for the lock, and waiting again only delays UNAVAILABLE.
func retryable(err error) bool {
	var myErr *mysql.MySQLError
	if errors.As(err, &myErr) {
		return myErr.Number == mysqlDeadlock || myErr.Number == mysqlTiDBWriteConflict
	}
	return false
}
