package auth

import "slices"

// Role is what a principal is in a workspace.
type Role string

// The roles of a workspace, from most to least.
const (
	Admin    Role = "admin"    // everything in the workspace: its members and tokens too
	Editor   Role = "editor"   // pipelines: create, change, delete, and run them
	Operator Role = "operator" // pipelines' lifecycle only: start, stop, suspend, resume
	Viewer   Role = "viewer"   // reads
)

// Roles lists the roles, from most to least.
var Roles = []Role{Admin, Editor, Operator, Viewer}

// Perm is something a request does.
type Perm string

// The permissions the API's routes require (internal/server declares one per route).
const (
	ReadPipelines    Perm = "pipelines:read"    // list, get, versions, logs, runs, events
	WritePipelines   Perm = "pipelines:write"   // create, apply, delete, rollback, reset, resnapshot
	OperatePipelines Perm = "pipelines:operate" // start, stop, suspend, resume, restart
	ReadAlerts       Perm = "alerts:read"       // the alerts of the workspace's pipelines, its rules and channels
	WriteAlerts      Perm = "alerts:write"      // the workspace's alert rules
	ReadConnections  Perm = "connections:read"  // the workspace's connections (never their credentials), and testing them
	WriteConnections Perm = "connections:write" // making, changing and removing them
	ManageWorkspace  Perm = "workspace:manage"  // its members, its tokens, its audit, its alert channels
	Self             Perm = "self"              // who am I, my workspaces: any principal
	ServerAdmin      Perm = "server:admin"      // users and workspaces: server admins only
)

// matrix is what each role may do, declared once: it drives the authorization of every
// route, and the test that walks every route with every role.
var matrix = map[Role][]Perm{
	Viewer:   {Self, ReadPipelines, ReadAlerts, ReadConnections},
	Operator: {Self, ReadPipelines, ReadAlerts, ReadConnections, OperatePipelines},
	Editor:   {Self, ReadPipelines, ReadAlerts, ReadConnections, OperatePipelines, WritePipelines, WriteAlerts},
	Admin:    {Self, ReadPipelines, ReadAlerts, ReadConnections, OperatePipelines, WritePipelines, WriteAlerts, WriteConnections, ManageWorkspace},
}

// Allows reports whether role may do perm. A server admin may do everything; ServerAdmin
// is no workspace role's; Self is every principal's, in any workspace or none.
func Allows(r Role, serverAdmin bool, p Perm) bool {
	if serverAdmin || p == Self {
		return true
	}
	return slices.Contains(matrix[r], p)
}

// ValidRole reports whether r names a role.
func ValidRole(r Role) bool { return slices.Contains(Roles, r) }

// AtMost reports whether role r grants nothing that role of does not: a principal may give
// a token or a member only a role up to its own.
func AtMost(r, of Role) bool {
	for _, p := range matrix[r] {
		if !slices.Contains(matrix[of], p) {
			return false
		}
	}
	return true
}
