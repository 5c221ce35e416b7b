package graph

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"runtime/debug"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"github.com/keycard/keycard/auth"
	"github.com/keycard/keycard/requestlog"
)

// Error codes of the API contract (extensions.code).
const (
	CodeUnauthenticated = "UNAUTHENTICATED"
	CodeForbidden       = "FORBIDDEN"
	CodeBadUserInput    = "BAD_USER_INPUT"
	CodeUsernameTaken   = "USERNAME_TAKEN"
	CodeRateLimited     = "RATE_LIMITED"
	CodeUnavailable     = "UNAVAILABLE"
	CodeInternal        = "INTERNAL_SERVER_ERROR"
	// CodeBadRequest marks a request that is not GraphQL over HTTP at all
	// (malformed JSON, wrong content type), as Apollo Server does.
	CodeBadRequest = "BAD_REQUEST"
	// CodePersistedQueryNotFound asks an automatic-persisted-queries client
	// to send the query the hash stands for.
	CodePersistedQueryNotFound = "PERSISTED_QUERY_NOT_FOUND"
)

// codes is the single mapping from domain error kinds to API codes.
var codes = map[auth.Kind]string{
	auth.KindUnauthenticated: CodeUnauthenticated,
	auth.KindForbidden:       CodeForbidden,
	auth.KindInvalidInput:    CodeBadUserInput,
	auth.KindConflict:        CodeUsernameTaken,
	auth.KindRateLimited:     CodeRateLimited,
	auth.KindUnavailable:     CodeUnavailable,
	auth.KindInternal:        CodeInternal,
}

// errorPresenter turns every resolver error into the client's view of it.
// Domain errors show their (client-safe) message and code; anything else is
// logged with the request id and shown as a bare INTERNAL_SERVER_ERROR.
func errorPresenter(log *slog.Logger) graphql.ErrorPresenterFunc {
	return func(ctx context.Context, err error) *gqlerror.Error {
		presented := graphql.DefaultErrorPresenter(ctx, err)
		var domain *auth.Error
		if !errors.As(err, &domain) {
			var gqlErr *gqlerror.Error
			if errors.As(err, &gqlErr) && gqlErr.Extensions["code"] != nil {
				return presented // gqlgen's own parse/validation errors
			}
			if errors.As(err, &gqlErr) && gqlErr.Err == nil {
				// The executor's own complaint about the request.
				presented.Extensions = map[string]any{"code": CodeBadUserInput}
				return presented
			}
			if field, ok := argumentError(ctx, gqlErr); ok {
				// An argument the executor could not coerce: a variable
				// "login_failed" for an enum whose value is LOGIN_FAILED
				// passes gqlparser's case-insensitive check and fails here.
				presented.Extensions = map[string]any{"code": CodeBadUserInput, "field": field}
				return presented
			}
			domain = auth.Internal(err)
		}
		code := codes[domain.Kind]
		presented.Message = domain.Message
		presented.Extensions = map[string]any{"code": code}
		switch domain.Kind {
		case auth.KindInvalidInput, auth.KindConflict:
			if domain.Field != "" {
				presented.Extensions["field"] = domain.Field
			}
		case auth.KindRateLimited:
			presented.Extensions["retryAfter"] = int(math.Ceil(domain.RetryAfter.Seconds()))
		case auth.KindInternal:
			id := requestlog.ID(ctx)
			presented.Extensions["requestId"] = id
			log.ErrorContext(ctx, "internal error", "request_id", id, "path", presented.Path.String(), "err", domain.Error())
		case auth.KindUnavailable:
			log.WarnContext(ctx, "dependency unavailable", "request_id", requestlog.ID(ctx), "err", domain.Error())
		}
		return presented
	}
}

// argumentError reports whether err is gqlgen's failure to coerce an
// argument of the field being resolved, and names the argument (or input
// field). Such an error sits below the field's path, and the field's
// arguments were never set, since the resolver did not run.
func argumentError(ctx context.Context, gqlErr *gqlerror.Error) (string, bool) {
	fc := graphql.GetFieldContext(ctx)
	if gqlErr == nil || fc == nil || fc.Args != nil || len(gqlErr.Path) <= len(fc.Path()) {
		return "", false
	}
	name, ok := gqlErr.Path[len(gqlErr.Path)-1].(ast.PathName)
	return string(name), ok
}

// panicError carries a recovered panic to the presenter, which logs it.
type panicError struct {
	value any
	stack []byte
}

func (p *panicError) Error() string { return fmt.Sprintf("panic: %v\n%s", p.value, p.stack) }

// recoverFunc keeps a panicking resolver from taking the process down; the
// stack goes to the log, never to the client.
func recoverFunc(ctx context.Context, value any) error {
	return auth.Internal(&panicError{value: value, stack: debug.Stack()})
}
