package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
)

// DefaultWorkspace is the workspace of pipelines made before workspaces, and of a server
// with no others.
const DefaultWorkspace = "default"

// User is a local account.
type User struct {
	Name        string    `json:"name"`
	Password    string    `json:"-"` // the Argon2id hash (internal/auth)
	ServerAdmin bool      `json:"server_admin"`
	Created     time.Time `json:"created"`
}

// Member is a user's role in a workspace.
type Member struct {
	Workspace string `json:"workspace"`
	User      string `json:"user"`
	Role      string `json:"role"`
}

// TokenRecord is an API token as the store keeps it: never its secret, only its hash.
type TokenRecord struct {
	ID        string    `json:"id"`
	Hash      string    `json:"-"`
	Kind      string    `json:"kind"` // session (a user's login) or service (a service account's)
	Name      string    `json:"name"` // the service account's name, or the user's
	User      string    `json:"user,omitempty"`
	Workspace string    `json:"workspace,omitempty"` // service tokens: their one workspace
	Role      string    `json:"role,omitempty"`      // service tokens: their role there
	Expires   time.Time `json:"expires"`
	Revoked   time.Time `json:"revoked,omitzero"`
	CreatedBy string    `json:"created_by"`
	Created   time.Time `json:"created"`
}

// AuditEntry is one line of the audit log: who did what, to what, from where, and how it
// ended.
type AuditEntry struct {
	ID        int64     `json:"id"`
	At        time.Time `json:"at"`
	Who       string    `json:"who"`
	Workspace string    `json:"workspace"`
	Action    string    `json:"action"`
	Target    string    `json:"target"`
	Outcome   string    `json:"outcome"` // ok, denied, failed, or an HTTP status
	From      string    `json:"from"`
	Detail    string    `json:"detail,omitempty"`
}

// CountUsers says how many users there are (none: the server still takes its local
// administrator).
func (s *Store) CountUsers(ctx context.Context) (int, error) {
	var n int
	err := s.queryRow(ctx, `SELECT count(*) FROM users`).Scan(&n)
	return n, err
}

// CreateUser adds a user (ErrExists if the name is taken).
func (s *Store) CreateUser(ctx context.Context, u User) error {
	_, err := s.exec(ctx, `INSERT INTO users (name, password, server_admin, created_at) VALUES (?, ?, ?, ?)`,
		u.Name, u.Password, boolInt(u.ServerAdmin), ts(now()))
	if err != nil && s.duplicate(ctx, `SELECT count(*) FROM users WHERE name = ?`, u.Name) {
		return fmt.Errorf("user %q: %w", u.Name, ErrExists)
	}
	return err
}

// duplicate reports whether q (a count) finds the row an insert failed on.
func (s *Store) duplicate(ctx context.Context, q string, args ...any) bool {
	var n int
	return s.queryRow(ctx, q, args...).Scan(&n) == nil && n > 0
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// GetUser returns a user (ErrNotFound).
func (s *Store) GetUser(ctx context.Context, name string) (*User, error) {
	var u User
	var admin int
	var created string
	err := s.queryRow(ctx, `SELECT name, password, server_admin, created_at FROM users WHERE name = ?`, name).Scan(&u.Name, &u.Password, &admin, &created)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("user %q: %w", name, ErrNotFound)
	}
	u.ServerAdmin, u.Created = admin == 1, parseTS(created)
	return &u, err
}

// Users lists the users, by name.
func (s *Store) Users(ctx context.Context) ([]User, error) {
	return collect(s, ctx, `SELECT name, server_admin, created_at FROM users ORDER BY name`, nil, func(r *sql.Rows) (User, error) {
		var u User
		var admin int
		var created string
		err := r.Scan(&u.Name, &admin, &created)
		u.ServerAdmin, u.Created = admin == 1, parseTS(created)
		return u, err
	})
}

// SetPassword replaces a user's password hash.
func (s *Store) SetPassword(ctx context.Context, name, hash string) error {
	return s.updateOne(ctx, "user "+name, `UPDATE users SET password = ? WHERE name = ?`, hash, name)
}

// DeleteUser removes a user, their memberships and their tokens.
func (s *Store) DeleteUser(ctx context.Context, name string) error {
	return s.tx(ctx, func(tx *txn) error {
		res, err := tx.exec(ctx, `DELETE FROM users WHERE name = ?`, name)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return fmt.Errorf("user %q: %w", name, ErrNotFound)
		}
		if _, err := tx.exec(ctx, `DELETE FROM members WHERE username = ?`, name); err != nil {
			return err
		}
		_, err = tx.exec(ctx, `UPDATE tokens SET revoked_at = ? WHERE username = ? AND revoked_at = ''`, ts(now()), name)
		return err
	})
}

// CreateWorkspace adds a workspace (ErrExists).
func (s *Store) CreateWorkspace(ctx context.Context, name string) error {
	_, err := s.exec(ctx, `INSERT INTO workspaces (name, created_at) VALUES (?, ?)`, name, ts(now()))
	if err != nil && s.duplicate(ctx, `SELECT count(*) FROM workspaces WHERE name = ?`, name) {
		return fmt.Errorf("workspace %q: %w", name, ErrExists)
	}
	return err
}

// Workspaces lists the workspaces, by name.
func (s *Store) Workspaces(ctx context.Context) ([]string, error) {
	return collect(s, ctx, `SELECT name FROM workspaces ORDER BY name`, nil, func(r *sql.Rows) (string, error) {
		var n string
		return n, r.Scan(&n)
	})
}

// WorkspaceExists reports whether a workspace is there.
func (s *Store) WorkspaceExists(ctx context.Context, name string) (bool, error) {
	var n int
	err := s.queryRow(ctx, `SELECT count(*) FROM workspaces WHERE name = ?`, name).Scan(&n)
	return n > 0, err
}

// SetMember gives user role in workspace (replacing the role they had).
func (s *Store) SetMember(ctx context.Context, m Member) error {
	return s.tx(ctx, func(tx *txn) error {
		if _, err := tx.exec(ctx, `DELETE FROM members WHERE workspace = ? AND username = ?`, m.Workspace, m.User); err != nil {
			return err
		}
		_, err := tx.exec(ctx, `INSERT INTO members (workspace, username, role) VALUES (?, ?, ?)`, m.Workspace, m.User, m.Role)
		return err
	})
}

// RemoveMember takes user out of workspace.
func (s *Store) RemoveMember(ctx context.Context, workspace, user string) error {
	return s.updateOne(ctx, "member "+user, `DELETE FROM members WHERE workspace = ? AND username = ?`, workspace, user)
}

// Members lists a workspace's members (workspace ""; every membership of user, else).
func (s *Store) Members(ctx context.Context, workspace, user string) ([]Member, error) {
	q, args := `SELECT workspace, username, role FROM members WHERE workspace = ? ORDER BY username`, []any{workspace}
	if workspace == "" {
		q, args = `SELECT workspace, username, role FROM members WHERE username = ? ORDER BY workspace`, []any{user}
	}
	return collect(s, ctx, q, args, func(r *sql.Rows) (Member, error) {
		var m Member
		return m, r.Scan(&m.Workspace, &m.User, &m.Role)
	})
}

// RoleOf is user's role in workspace ("" none).
func (s *Store) RoleOf(ctx context.Context, workspace, user string) (string, error) {
	var role string
	err := s.queryRow(ctx, `SELECT role FROM members WHERE workspace = ? AND username = ?`, workspace, user).Scan(&role)
	if errors.Is(err, sql.ErrNoRows) {
		return "", nil
	}
	return role, err
}

// AddToken stores a token's record.
func (s *Store) AddToken(ctx context.Context, t TokenRecord) error {
	_, err := s.exec(ctx, `INSERT INTO tokens (id, hash, kind, name, username, workspace, role, expires_at, created_by, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		t.ID, t.Hash, t.Kind, t.Name, t.User, t.Workspace, t.Role, ts(t.Expires), t.CreatedBy, ts(now()))
	return err
}

const tokenCols = `id, hash, kind, name, username, workspace, role, expires_at, revoked_at, created_by, created_at`

func scanToken(r interface{ Scan(...any) error }) (TokenRecord, error) {
	var t TokenRecord
	var exp, rev, created string
	err := r.Scan(&t.ID, &t.Hash, &t.Kind, &t.Name, &t.User, &t.Workspace, &t.Role, &exp, &rev, &t.CreatedBy, &created)
	t.Expires, t.Created = parseTS(exp), parseTS(created)
	if rev != "" {
		t.Revoked = parseTS(rev)
	}
	return t, err
}

// Token returns a token's record (nil: no such id).
func (s *Store) Token(ctx context.Context, id string) (*TokenRecord, error) {
	t, err := scanToken(s.queryRow(ctx, `SELECT `+tokenCols+` FROM tokens WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	return &t, err
}

// Tokens lists the service tokens of a workspace, newest first.
func (s *Store) Tokens(ctx context.Context, workspace string) ([]TokenRecord, error) {
	return collect(s, ctx, `SELECT `+tokenCols+` FROM tokens WHERE workspace = ? AND kind = 'service' ORDER BY created_at DESC`, []any{workspace},
		func(r *sql.Rows) (TokenRecord, error) { return scanToken(r) })
}

// RevokeToken revokes a token of workspace ("": any), at once.
func (s *Store) RevokeToken(ctx context.Context, workspace, id string) error {
	q, args := `UPDATE tokens SET revoked_at = ? WHERE id = ? AND revoked_at = ''`, []any{ts(now()), id}
	if workspace != "" {
		q += ` AND workspace = ?`
		args = append(args, workspace)
	}
	return s.updateOne(ctx, "token "+id, q, args...)
}

// Audit appends an entry to the audit log.
func (s *Store) Audit(ctx context.Context, e AuditEntry) error {
	if e.At.IsZero() {
		e.At = now()
	}
	_, err := s.exec(ctx, `INSERT INTO audit (at, who, workspace, action, target, outcome, from_addr, detail) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
		ts(e.At), e.Who, e.Workspace, e.Action, e.Target, e.Outcome, e.From, e.Detail)
	return err
}

// AuditLog returns the entries after id after, oldest first, at most limit, of workspace
// ("": all).
func (s *Store) AuditLog(ctx context.Context, workspace string, after int64, limit int) ([]AuditEntry, error) {
	q, args := `SELECT id, at, who, workspace, action, target, outcome, from_addr, detail FROM audit WHERE id > ?`, []any{after}
	if workspace != "" {
		q += ` AND workspace = ?`
		args = append(args, workspace)
	}
	q += ` ORDER BY id LIMIT ?`
	args = append(args, limit)
	return collect(s, ctx, q, args, func(r *sql.Rows) (AuditEntry, error) {
		var e AuditEntry
		var at string
		err := r.Scan(&e.ID, &at, &e.Who, &e.Workspace, &e.Action, &e.Target, &e.Outcome, &e.From, &e.Detail)
		e.At = parseTS(at)
		return e, err
	})
}

// updateOne runs q, which must touch a row (else what is ErrNotFound).
func (s *Store) updateOne(ctx context.Context, what, q string, args ...any) error {
	res, err := s.exec(ctx, q, args...)
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("%s: %w", what, ErrNotFound)
	}
	return nil
}

// collect runs a query and scans each row with scan.
func collect[T any](s *Store, ctx context.Context, q string, args []any, scan func(*sql.Rows) (T, error)) ([]T, error) {
	rows, err := s.query(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []T
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, rows.Err()
}

// Connection is a source or sink server as a named object: its connector type, its
// settings (host, port, user, options) and its credentials, sealed (internal/auth): the
// store never holds them in the clear, and nothing returns them.
type Connection struct {
	Name      string            `json:"name"`
	Workspace string            `json:"workspace"` // the workspace that owns it
	Type      string            `json:"type"`
	Settings  map[string]string `json:"settings"`
	Secrets   string            `json:"-"` // sealed JSON of the secret settings
	CreatedBy string            `json:"created_by"`
	Created   time.Time         `json:"created"`
	Updated   time.Time         `json:"updated"`
}

const connectionCols = `name, workspace, type, settings, secrets, created_by, created_at, updated_at`

func scanConnection(r interface{ Scan(...any) error }) (Connection, error) {
	var c Connection
	var settings, created, updated string
	err := r.Scan(&c.Name, &c.Workspace, &c.Type, &settings, &c.Secrets, &c.CreatedBy, &created, &updated)
	if err == nil {
		err = json.Unmarshal([]byte(settings), &c.Settings)
	}
	c.Created, c.Updated = parseTS(created), parseTS(updated)
	return c, err
}

// PutConnection adds a connection, or replaces one (create: ErrExists if it is there).
func (s *Store) PutConnection(ctx context.Context, c Connection, create bool) error {
	settings, _ := json.Marshal(c.Settings)
	t := ts(now())
	if create {
		_, err := s.exec(ctx, `INSERT INTO connections (`+connectionCols+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
			c.Name, c.Workspace, c.Type, string(settings), c.Secrets, c.CreatedBy, t, t)
		if err != nil && s.duplicate(ctx, `SELECT count(*) FROM connections WHERE name = ?`, c.Name) {
			return fmt.Errorf("connection %q: %w", c.Name, ErrExists)
		}
		return err
	}
	return s.updateOne(ctx, "connection "+c.Name, `UPDATE connections SET type = ?, settings = ?, secrets = ?, updated_at = ? WHERE name = ?`,
		c.Type, string(settings), c.Secrets, t, c.Name)
}

// GetConnection returns a connection (ErrNotFound).
func (s *Store) GetConnection(ctx context.Context, name string) (*Connection, error) {
	c, err := scanConnection(s.queryRow(ctx, `SELECT `+connectionCols+` FROM connections WHERE name = ?`, name))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("connection %q: %w", name, ErrNotFound)
	}
	return &c, err
}

// Connections lists the connections of workspace ("": all), by name.
func (s *Store) Connections(ctx context.Context, workspace string) ([]Connection, error) {
	q, args := `SELECT `+connectionCols+` FROM connections ORDER BY name`, []any(nil)
	if workspace != "" {
		q, args = `SELECT `+connectionCols+` FROM connections WHERE workspace = ? ORDER BY name`, []any{workspace}
	}
	return collect(s, ctx, q, args, func(r *sql.Rows) (Connection, error) { return scanConnection(r) })
}

// DeleteConnection removes a connection.
func (s *Store) DeleteConnection(ctx context.Context, name string) error {
	return s.updateOne(ctx, "connection "+name, `DELETE FROM connections WHERE name = ?`, name)
}

// Grant states.
const (
	GrantRequested = "requested"
	GrantApproved  = "approved"
	GrantDenied    = "denied"
	GrantRevoked   = "revoked"
	GrantExpired   = "expired"
)

// Grant is a workspace's use of another workspace's connection: requested with a reason,
// narrowed to tables (patterns as a source's tables setting takes them; "" all), decided
// by the connection's owners, until it expires or is revoked.
type Grant struct {
	ID         int64  `json:"id"`
	Connection string `json:"connection"`
	Workspace  string `json:"workspace"` // the workspace that may use it
	Tables     string `json:"tables"`
	// Columns narrows tables of Tables (as its items name them) to some of their columns
	// (the others all of theirs).
	Columns     map[string][]string `json:"columns,omitempty"`
	Reason      string              `json:"reason"`
	State       string              `json:"state"`
	RequestedBy string              `json:"requested_by"`
	DecidedBy   string              `json:"decided_by,omitempty"`
	Why         string              `json:"why,omitempty"` // the decision's, or the revocation's, reason
	Expires     time.Time           `json:"expires"`
	Created     time.Time           `json:"created"`
	Decided     time.Time           `json:"decided,omitzero"`
}

const grantCols = `id, connection, workspace, tables, columns, reason, state, requested_by, decided_by, why, expires_at, created_at, decided_at`

func scanGrant(r interface{ Scan(...any) error }) (Grant, error) {
	var g Grant
	var cols, exp, created, decided string
	err := r.Scan(&g.ID, &g.Connection, &g.Workspace, &g.Tables, &cols, &g.Reason, &g.State, &g.RequestedBy, &g.DecidedBy, &g.Why, &exp, &created, &decided)
	if err == nil {
		err = json.Unmarshal([]byte(cols), &g.Columns)
	}
	g.Expires, g.Created = parseTS(exp), parseTS(created)
	if decided != "" {
		g.Decided = parseTS(decided)
	}
	return g, err
}

// RequestGrant records a request and returns its id.
func (s *Store) RequestGrant(ctx context.Context, g Grant) (int64, error) {
	var id int64
	err := s.tx(ctx, func(tx *txn) error {
		cols, _ := json.Marshal(g.Columns)
		if g.Columns == nil {
			cols = []byte("{}")
		}
		if _, err := tx.exec(ctx, `INSERT INTO grants (connection, workspace, tables, columns, reason, state, requested_by, expires_at, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			g.Connection, g.Workspace, g.Tables, string(cols), g.Reason, GrantRequested, g.RequestedBy, ts(g.Expires), ts(now())); err != nil {
			return err
		}
		return tx.queryRow(ctx, `SELECT max(id) FROM grants`).Scan(&id)
	})
	return id, err
}

// GetGrant returns a grant (ErrNotFound).
func (s *Store) GetGrant(ctx context.Context, id int64) (*Grant, error) {
	g, err := scanGrant(s.queryRow(ctx, `SELECT `+grantCols+` FROM grants WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("grant %d: %w", id, ErrNotFound)
	}
	return &g, err
}

// DecideGrant moves a grant from one of the states from to state.
func (s *Store) DecideGrant(ctx context.Context, id int64, from []string, state, by, why string) error {
	q := `UPDATE grants SET state = ?, decided_by = ?, why = ?, decided_at = ? WHERE id = ? AND state IN (` + strings.Repeat("?, ", len(from)-1) + `?)`
	args := []any{state, by, why, ts(now()), id}
	for _, f := range from {
		args = append(args, f)
	}
	return s.updateOne(ctx, fmt.Sprintf("grant %d in state %s", id, strings.Join(from, " or ")), q, args...)
}

// Grants lists the grants asked by workspace or of the connections it owns (owned), newest first.
func (s *Store) Grants(ctx context.Context, workspace string, owned []string) ([]Grant, error) {
	q, args := `SELECT `+grantCols+` FROM grants WHERE workspace = ?`, []any{workspace}
	for _, c := range owned {
		q += ` OR connection = ?`
		args = append(args, c)
	}
	return collect(s, ctx, q+` ORDER BY id DESC`, args, func(r *sql.Rows) (Grant, error) { return scanGrant(r) })
}

// ActiveGrant is workspace's approved, unexpired grant of connection at t (nil: none).
func (s *Store) ActiveGrant(ctx context.Context, connection, workspace string, t time.Time) (*Grant, error) {
	g, err := scanGrant(s.queryRow(ctx, `SELECT `+grantCols+` FROM grants WHERE connection = ? AND workspace = ? AND state = ? AND expires_at > ? ORDER BY id DESC LIMIT 1`,
		connection, workspace, GrantApproved, ts(t)))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	return &g, err
}

// ExpiredGrants are the approved grants whose time has passed at t.
func (s *Store) ExpiredGrants(ctx context.Context, t time.Time) ([]Grant, error) {
	return collect(s, ctx, `SELECT `+grantCols+` FROM grants WHERE state = ? AND expires_at <= ?`, []any{GrantApproved, ts(t)},
		func(r *sql.Rows) (Grant, error) { return scanGrant(r) })
}

// CatalogColumn is a column of a catalogued table.
type CatalogColumn struct {
	Name        string `json:"name"`
	Type        string `json:"type"`
	Nullable    bool   `json:"nullable"`
	Key         bool   `json:"key"`
	Description string `json:"description,omitempty"`
	// Level is its security level (public, internal, confidential, restricted); Proposed
	// what the sensitive-data detector saw in it; Confirmed whether a person set Level.
	Level     string `json:"level"`
	Proposed  string `json:"proposed,omitempty"`
	Confirmed bool   `json:"confirmed"`
}

// CatalogEntry is a table a connection reaches, as its last scan found it.
type CatalogEntry struct {
	Connection  string          `json:"connection"`
	Name        string          `json:"name"`
	Columns     []CatalogColumn `json:"columns"`
	Description string          `json:"description,omitempty"`
	Owner       string          `json:"owner,omitempty"`
	// RowEstimate is the server's estimate of its rows at the scan (-1 where it has none).
	RowEstimate int64 `json:"row_estimate"`
	// Sources are where the pipelines that write this table read it from (a sink table).
	Sources []CatalogSource `json:"sources,omitempty"`
	Scanned time.Time       `json:"scanned"`
}

// CatalogSource is a table a pipeline copies into a catalogued table.
type CatalogSource struct {
	Pipeline   string `json:"pipeline"`
	Connection string `json:"connection,omitempty"` // "" where the source is no connection
	Namespace  string `json:"namespace"`            // the source's server, as lineage names it
	Table      string `json:"table"`
}

// PutCatalog replaces a connection's entries with those given (the tables of a scan).
func (s *Store) PutCatalog(ctx context.Context, connection string, entries []CatalogEntry) error {
	return s.tx(ctx, func(tx *txn) error {
		if _, err := tx.exec(ctx, `DELETE FROM catalog WHERE connection = ?`, connection); err != nil {
			return err
		}
		for _, e := range entries {
			cols, _ := json.Marshal(e.Columns)
			srcs, _ := json.Marshal(e.Sources)
			if _, err := tx.exec(ctx, `INSERT INTO catalog (connection, name, columns, description, owner, row_estimate, sources, scanned_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
				connection, e.Name, string(cols), e.Description, e.Owner, e.RowEstimate, string(srcs), ts(e.Scanned)); err != nil {
				return err
			}
		}
		return nil
	})
}

// UpdateCatalog replaces one entry's documentation (description, owner, columns) and
// sources.
func (s *Store) UpdateCatalog(ctx context.Context, e CatalogEntry) error {
	cols, _ := json.Marshal(e.Columns)
	srcs, _ := json.Marshal(e.Sources)
	return s.updateOne(ctx, "table "+e.Name, `UPDATE catalog SET columns = ?, description = ?, owner = ?, sources = ? WHERE connection = ? AND name = ?`,
		string(cols), e.Description, e.Owner, string(srcs), e.Connection, e.Name)
}

// AddCatalog adds an entry the connection's catalog does not hold yet (a sink table a
// pipeline made, before a scan finds it); false where it holds one.
func (s *Store) AddCatalog(ctx context.Context, e CatalogEntry) (bool, error) {
	added := false
	err := s.tx(ctx, func(tx *txn) error {
		var n int
		if err := tx.queryRow(ctx, `SELECT COUNT(*) FROM catalog WHERE connection = ? AND name = ?`, e.Connection, e.Name).Scan(&n); err != nil || n > 0 {
			return err
		}
		cols, _ := json.Marshal(e.Columns)
		srcs, _ := json.Marshal(e.Sources)
		_, err := tx.exec(ctx, `INSERT INTO catalog (connection, name, columns, description, owner, row_estimate, sources, scanned_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
			e.Connection, e.Name, string(cols), e.Description, e.Owner, e.RowEstimate, string(srcs), ts(e.Scanned))
		added = err == nil
		return err
	})
	return added, err
}

// Catalog lists the entries of the connections named, by connection and name.
func (s *Store) Catalog(ctx context.Context, connections []string) ([]CatalogEntry, error) {
	if len(connections) == 0 {
		return nil, nil
	}
	q := `SELECT connection, name, columns, description, owner, row_estimate, sources, scanned_at FROM catalog WHERE connection IN (` +
		strings.Repeat("?, ", len(connections)-1) + `?) ORDER BY connection, name`
	args := make([]any, len(connections))
	for i, c := range connections {
		args[i] = c
	}
	return collect(s, ctx, q, args, func(r *sql.Rows) (CatalogEntry, error) {
		var e CatalogEntry
		var cols, srcs, scanned string
		err := r.Scan(&e.Connection, &e.Name, &cols, &e.Description, &e.Owner, &e.RowEstimate, &srcs, &scanned)
		if err == nil {
			err = json.Unmarshal([]byte(cols), &e.Columns)
		}
		if err == nil {
			err = json.Unmarshal([]byte(srcs), &e.Sources)
		}
		e.Scanned = parseTS(scanned)
		return e, err
	})
}

// Clearance is a workspace's clearance: the highest security level it sees unmasked.
func (s *Store) Clearance(ctx context.Context, workspace string) (string, error) {
	var c string
	err := s.queryRow(ctx, `SELECT clearance FROM workspaces WHERE name = ?`, workspace).Scan(&c)
	if errors.Is(err, sql.ErrNoRows) {
		return "", fmt.Errorf("workspace %q: %w", workspace, ErrNotFound)
	}
	return c, err
}

// SetClearance sets a workspace's clearance.
func (s *Store) SetClearance(ctx context.Context, workspace, level string) error {
	return s.updateOne(ctx, "workspace "+workspace, `UPDATE workspaces SET clearance = ? WHERE name = ?`, level, workspace)
}

// AlertSettings are a workspace's alert rules and channels, as JSON its owner writes.
type AlertSettings struct {
	Workspace string
	Rules     string // a JSON list of rules
	Channels  string // a JSON list of channels, their URLs sealed
}

// GetAlertSettings returns a workspace's alert settings ("[]" each where it has none).
func (s *Store) GetAlertSettings(ctx context.Context, workspace string) (AlertSettings, error) {
	a := AlertSettings{Workspace: workspace, Rules: "[]", Channels: "[]"}
	err := s.queryRow(ctx, `SELECT rules, channels FROM alert_settings WHERE workspace = ?`, workspace).Scan(&a.Rules, &a.Channels)
	if errors.Is(err, sql.ErrNoRows) {
		err = nil
	}
	return a, err
}

// AllAlertSettings returns every workspace's alert settings.
func (s *Store) AllAlertSettings(ctx context.Context) ([]AlertSettings, error) {
	return collect(s, ctx, `SELECT workspace, rules, channels FROM alert_settings ORDER BY workspace`, nil, func(r *sql.Rows) (AlertSettings, error) {
		var a AlertSettings
		err := r.Scan(&a.Workspace, &a.Rules, &a.Channels)
		return a, err
	})
}

// PutAlertSettings replaces a workspace's alert settings.
func (s *Store) PutAlertSettings(ctx context.Context, a AlertSettings) error {
	return s.tx(ctx, func(tx *txn) error {
		if _, err := tx.exec(ctx, `DELETE FROM alert_settings WHERE workspace = ?`, a.Workspace); err != nil {
			return err
		}
		_, err := tx.exec(ctx, `INSERT INTO alert_settings (workspace, rules, channels) VALUES (?, ?, ?)`, a.Workspace, a.Rules, a.Channels)
		return err
	})
}
