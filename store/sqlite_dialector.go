package store

import (
	"context"
	"database/sql"
	"strconv"

	"gorm.io/gorm"
	"gorm.io/gorm/callbacks"
	"gorm.io/gorm/clause"
	"gorm.io/gorm/logger"
	"gorm.io/gorm/migrator"
	"gorm.io/gorm/schema"

	// The pure-Go SQLite driver, registered as "sqlite". Used directly
	// rather than through github.com/glebarez/sqlite, whose older fork of it
	// re-prepares every statement on every execution.
	_ "modernc.org/sqlite"
)

// sqliteDialector is GORM's SQLite dialect over modernc.org/sqlite. It is
// adapted from github.com/glebarez/sqlite (MIT licence), trimmed to what
// keycard uses: the schema comes from SQL migrations, never from GORM.
type sqliteDialector struct {
	dsn string
}

func (sqliteDialector) Name() string { return "sqlite" }

func (d sqliteDialector) Initialize(db *gorm.DB) error {
	conn, err := sql.Open("sqlite", d.dsn)
	if err != nil {
		return err
	}
	db.ConnPool = conn
	var version string
	if err := conn.QueryRowContext(context.Background(), "SELECT sqlite_version()").Scan(&version); err != nil {
		return err
	}
	// modernc.org/sqlite bundles SQLite ≥ 3.35, which has RETURNING.
	callbacks.RegisterDefaultCallbacks(db, &callbacks.Config{
		CreateClauses:        []string{"INSERT", "VALUES", "ON CONFLICT", "RETURNING"},
		UpdateClauses:        []string{"UPDATE", "SET", "FROM", "WHERE", "RETURNING"},
		DeleteClauses:        []string{"DELETE", "FROM", "WHERE", "RETURNING"},
		LastInsertIDReversed: true,
	})
	db.ClauseBuilders["LIMIT"] = func(c clause.Clause, builder clause.Builder) {
		limit, ok := c.Expression.(clause.Limit)
		if !ok {
			return
		}
		n := -1
		if limit.Limit != nil && *limit.Limit >= 0 {
			n = *limit.Limit
		}
		if n >= 0 || limit.Offset > 0 {
			builder.WriteString("LIMIT ")
			builder.WriteString(strconv.Itoa(n))
		}
		if limit.Offset > 0 {
			builder.WriteString(" OFFSET ")
			builder.WriteString(strconv.Itoa(limit.Offset))
		}
	}
	db.ClauseBuilders["FOR"] = func(c clause.Clause, builder clause.Builder) {
		if _, ok := c.Expression.(clause.Locking); ok {
			return // no row locks in SQLite; BEGIN IMMEDIATE locks the database
		}
		c.Build(builder)
	}
	return nil
}

func (sqliteDialector) DefaultValueOf(field *schema.Field) clause.Expression {
	if field.AutoIncrement {
		return clause.Expr{SQL: "NULL"}
	}
	return clause.Expr{SQL: "DEFAULT"}
}

func (d sqliteDialector) Migrator(db *gorm.DB) gorm.Migrator {
	return migrator.Migrator{Config: migrator.Config{DB: db, Dialector: d, CreateIndexAfterCreateTable: true}}
}

func (sqliteDialector) BindVarTo(writer clause.Writer, _ *gorm.Statement, _ any) {
	writer.WriteByte('?')
}

// QuoteTo quotes each dot-separated part of an identifier with backticks.
func (sqliteDialector) QuoteTo(writer clause.Writer, str string) {
	writer.WriteByte('`')
	for i := 0; i < len(str); i++ {
		switch c := str[i]; c {
		case '`':
			writer.WriteString("``")
		case '.':
			writer.WriteString("`.`")
		default:
			writer.WriteByte(c)
		}
	}
	writer.WriteByte('`')
}

func (sqliteDialector) Explain(sql string, vars ...any) string {
	return logger.ExplainSQL(sql, nil, `"`, vars...)
}

func (sqliteDialector) DataTypeOf(field *schema.Field) string {
	switch field.DataType {
	case schema.Bool:
		return "numeric"
	case schema.Int, schema.Uint:
		return "integer"
	case schema.Float:
		return "real"
	case schema.String:
		return "text"
	case schema.Time:
		return "datetime"
	case schema.Bytes:
		return "blob"
	}
	return string(field.DataType)
}

func (sqliteDialector) SavePoint(tx *gorm.DB, name string) error {
	return tx.Exec("SAVEPOINT " + name).Error
}

func (sqliteDialector) RollbackTo(tx *gorm.DB, name string) error {
	return tx.Exec("ROLLBACK TO SAVEPOINT " + name).Error
}
