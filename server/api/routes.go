package api

import (
	"github.com/gofiber/fiber/v2"

	"fieldsync/schemas"
)

// route is one endpoint: how it is served and how it is documented. The
// app and the OpenAPI document are both built from routes(), and a test
// checks the document against what Fiber actually registered.
type route struct {
	method  string
	path    string // Fiber syntax: /v1/users/:id
	summary string
	tag     string
	public  bool           // no token needed
	roles   []schemas.Role // empty: any signed-in user
	query   []param        // documented query parameters
	body    any            // request body type, for the document
	resp    any            // success response type; nil for 204
	status  int            // success status
	handler fiber.Handler
}

type param struct {
	name, desc, typ string
}

func (a *API) routes() []route {
	admin := []schemas.Role{schemas.RoleAdmin}
	page := []param{{"after", "opaque cursor from the previous page's nextCursor", "string"}, {"limit", "page size, 1-200 (default 50)", "integer"}}
	return []route{
		{method: "GET", path: "/healthz", summary: "Liveness: 200 while the process runs", tag: "ops", public: true, resp: Status{}, status: 200, handler: a.healthz},
		{method: "GET", path: "/readyz", summary: "Readiness: 200 only when the store answers a ping", tag: "ops", public: true, resp: Status{}, status: 200, handler: a.readyz},
		{method: "GET", path: "/openapi.json", summary: "This document", tag: "ops", public: true, resp: map[string]any{}, status: 200, handler: a.openapi},

		{method: "POST", path: "/v1/auth/login", summary: "Sign in on a device; returns an access and a refresh token", tag: "auth", public: true, body: LoginRequest{}, resp: TokenResponse{}, status: 200, handler: a.login},
		{method: "POST", path: "/v1/auth/refresh", summary: "Exchange a refresh token for a new pair (rotation; reuse revokes the session)", tag: "auth", public: true, body: RefreshRequest{}, resp: TokenResponse{}, status: 200, handler: a.refresh},
		{method: "POST", path: "/v1/auth/logout", summary: "End this device's session", tag: "auth", status: 204, handler: a.logout},
		{method: "GET", path: "/v1/me", summary: "The signed-in user", tag: "auth", resp: schemas.User{}, status: 200, handler: a.me},

		{method: "GET", path: "/v1/users", summary: "List accounts", tag: "users", roles: admin, query: append([]param{{"role", "only this role", "string"}}, page...), resp: UserPage{}, status: 200, handler: a.listUsers},
		{method: "POST", path: "/v1/users", summary: "Create an account", tag: "users", roles: admin, body: schemas.NewUser{}, resp: schemas.User{}, status: 201, handler: a.createUser},
		{method: "GET", path: "/v1/users/:id", summary: "One account", tag: "users", roles: admin, resp: schemas.User{}, status: 200, handler: a.getUser},
		{method: "PATCH", path: "/v1/users/:id", summary: "Change an account; disabling it ends its sessions at once", tag: "users", roles: admin, body: schemas.UserUpdate{}, resp: schemas.User{}, status: 200, handler: a.updateUser},
	}
}
