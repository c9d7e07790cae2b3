package server

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/weir-data/weir/internal/auth"
	"github.com/weir-data/weir/internal/store"
)

// OIDC login, as an option beside local passwords: GET /api/v1/oidc/login sends the
// browser to the provider; its redirect back to /api/v1/oidc/callback is checked (state,
// the ID token's signature, issuer, audience, expiry and nonce) and answered with a
// session token, as a password login is. The user is the token's preferred_username (else
// its e-mail's local part), made on first login without a password and without any
// workspace: an admin gives it its memberships.

// OIDCConfig configures OIDC login ("" Issuer: off).
type OIDCConfig struct {
	Issuer, ClientID, ClientSecret string
	RedirectURL                    string // this server's …/api/v1/oidc/callback, as the provider knows it
}

type oidcLogin struct {
	cfg OIDCConfig

	mu       sync.Mutex
	verifier *oidc.IDTokenVerifier
	oauth    *oauth2.Config
	pending  map[string]oidcState // by state
}

type oidcState struct {
	nonce   string
	expires time.Time
	console bool // started from the web console: the session goes in its cookie
}

// setup reaches the provider the first time it is needed.
func (o *oidcLogin) setup(ctx context.Context) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.verifier != nil {
		return nil
	}
	p, err := oidc.NewProvider(ctx, o.cfg.Issuer)
	if err != nil {
		return fmt.Errorf("reach the OIDC provider %s: %w", o.cfg.Issuer, err)
	}
	o.verifier = p.Verifier(&oidc.Config{ClientID: o.cfg.ClientID})
	o.oauth = &oauth2.Config{ClientID: o.cfg.ClientID, ClientSecret: o.cfg.ClientSecret, Endpoint: p.Endpoint(),
		RedirectURL: o.cfg.RedirectURL, Scopes: []string{oidc.ScopeOpenID, "profile", "email"}}
	return nil
}

func randomHex() string {
	b := make([]byte, 16)
	rand.Read(b)
	return hex.EncodeToString(b)
}

func (a *api) oidcStart(w http.ResponseWriter, r *http.Request) {
	if a.oidc == nil {
		writeError(w, http.StatusNotFound, Error{Error: "OIDC login is off on this server (weir server --oidc-issuer)"})
		return
	}
	if err := a.oidc.setup(r.Context()); err != nil {
		writeError(w, http.StatusBadGateway, Error{Error: err.Error()})
		return
	}
	state, nonce := randomHex(), randomHex()
	a.oidc.mu.Lock()
	now := time.Now()
	for s, p := range a.oidc.pending {
		if now.After(p.expires) {
			delete(a.oidc.pending, s)
		}
	}
	if len(a.oidc.pending) > 10_000 { // bounded: a flood of starts forgets the oldest
		clear(a.oidc.pending)
	}
	a.oidc.pending[state] = oidcState{nonce: nonce, expires: now.Add(10 * time.Minute), console: r.URL.Query().Get("console") == "1"}
	a.oidc.mu.Unlock()
	http.Redirect(w, r, a.oidc.oauth.AuthCodeURL(state, oidc.Nonce(nonce)), http.StatusFound)
}

var notName = regexp.MustCompile(`[^a-z0-9_.-]+`)

func (a *api) oidcCallback(w http.ResponseWriter, r *http.Request) {
	if a.oidc == nil {
		writeError(w, http.StatusNotFound, Error{Error: "OIDC login is off on this server"})
		return
	}
	q := r.URL.Query()
	a.oidc.mu.Lock()
	st, ok := a.oidc.pending[q.Get("state")]
	delete(a.oidc.pending, q.Get("state"))
	a.oidc.mu.Unlock()
	p := Principal{Kind: "user"}
	deny := func(why string) {
		a.audit(r, p, "login", "oidc", "denied", why)
		writeError(w, http.StatusUnauthorized, Error{Error: "OIDC login failed: " + why})
	}
	if !ok || time.Now().After(st.expires) {
		deny("an unknown or expired state: start again at /api/v1/oidc/login")
		return
	}
	tok, err := a.oidc.oauth.Exchange(r.Context(), q.Get("code"))
	if err != nil {
		deny("the provider did not take the code: " + err.Error())
		return
	}
	raw, _ := tok.Extra("id_token").(string)
	idt, err := a.oidc.verifier.Verify(r.Context(), raw)
	if err != nil {
		deny("the ID token does not verify: " + err.Error())
		return
	}
	var claims struct {
		Nonce    string `json:"nonce"`
		Username string `json:"preferred_username"`
		Email    string `json:"email"`
	}
	if err := idt.Claims(&claims); err != nil || claims.Nonce != st.nonce {
		deny("the ID token's nonce is not this login's")
		return
	}
	name := claims.Username
	if name == "" {
		name, _, _ = strings.Cut(claims.Email, "@")
	}
	name = strings.Trim(notName.ReplaceAllString(strings.ToLower(name), "-"), "-._")
	if len(name) > 63 {
		name = name[:63]
	}
	p.Name = name
	if checkName("user", name) != nil {
		deny("the ID token names no usable user (preferred_username or email)")
		return
	}
	if _, err := a.c.st.GetUser(r.Context(), name); store.IsNotFound(err) {
		// Made on first login: no password (it cannot log in locally) and no workspace.
		if err := a.c.st.CreateUser(r.Context(), store.User{Name: name}); err != nil && !errors.Is(err, store.ErrExists) {
			fail(w, err)
			return
		}
	} else if err != nil {
		fail(w, err)
		return
	}
	a.session(w, r, p, st.console)
}

// SessionCookie is the cookie the web console keeps its session token in.
const SessionCookie = "weir_session"

// SetSessionCookie keeps a session token in the browser for the web console: HttpOnly,
// SameSite=Strict, Secure over TLS.
func SetSessionCookie(w http.ResponseWriter, r *http.Request, token string, expires time.Time) {
	http.SetCookie(w, &http.Cookie{Name: SessionCookie, Value: token, Path: "/", Expires: expires, HttpOnly: true,
		Secure: r.TLS != nil, SameSite: http.SameSiteStrictMode})
}

// session makes a session token for user p and answers it (a login's end); toConsole
// keeps it in the console's cookie and sends the browser to the console instead.
func (a *api) session(w http.ResponseWriter, r *http.Request, p Principal, toConsole bool) {
	tok, err := auth.NewToken()
	if err != nil {
		fail(w, err)
		return
	}
	exp := time.Now().Add(sessionTTL).UTC()
	if err := a.c.st.AddToken(r.Context(), store.TokenRecord{ID: tok.ID, Hash: tok.Hash, Kind: "session", Name: p.Name, User: p.Name,
		Expires: exp, CreatedBy: p.Name}); err != nil {
		fail(w, err)
		return
	}
	a.audit(r, p, "login", p.Name, "ok", "")
	if toConsole {
		SetSessionCookie(w, r, tok.Plain, exp)
		http.Redirect(w, r, "/ui/pipelines", http.StatusFound)
		return
	}
	writeJSON(w, http.StatusOK, LoginResult{Token: tok.Plain, Expires: exp})
}

var oidcRoutes = []route{
	{method: "GET", path: "/api/v1/oidc/login", id: "oidcLogin", summary: "Log in with the OIDC provider: a redirect to it (with --oidc-issuer)",
		params: []param{{name: "console", in: "query", doc: "1: the login is the web console's (the callback keeps the session in its cookie and returns to it)", typ: "string"}},
		status: 302, errors: []int{404, 502}, h: (*api).oidcStart},
	{method: "GET", path: "/api/v1/oidc/callback", id: "oidcCallback", summary: "Where the OIDC provider sends the browser back: a session token, as a password login answers",
		params: []param{{name: "code", in: "query", doc: "the provider's code", typ: "string"}, {name: "state", in: "query", doc: "the login's state", typ: "string"},
			{name: "iss", in: "query", doc: "the issuer (RFC 9207)", typ: "string"}, {name: "session_state", in: "query", doc: "the provider's session", typ: "string"},
			{name: "scope", in: "query", doc: "the scopes granted", typ: "string"}, {name: "error", in: "query", doc: "the provider's error", typ: "string"},
			{name: "error_description", in: "query", doc: "the provider's words", typ: "string"}},
		out: LoginResult{}, status: 200, errors: []int{401, 404}, h: (*api).oidcCallback},
}
