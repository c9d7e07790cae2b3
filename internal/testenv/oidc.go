package testenv

import (
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"sync"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
)

// OIDCProvider is an in-process OpenID Connect provider for tests: discovery, keys, an
// authorization endpoint that signs in whoever it is told (Login) without a page, and a
// token endpoint that trades a code for an ID token signed with RS256.
type OIDCProvider struct {
	URL      string // the issuer
	ClientID string
	Secret   string
	srv      *http.Server
	key      *rsa.PrivateKey
	mu       sync.Mutex
	user     map[string]string // the claims of the next sign-in
	codes    map[string]map[string]string
}

// StartOIDCProvider starts a provider that knows one client.
func StartOIDCProvider(clientID, secret string) (*OIDCProvider, error) {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	p := &OIDCProvider{URL: "http://" + ln.Addr().String(), ClientID: clientID, Secret: secret, key: key, codes: map[string]map[string]string{}}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /.well-known/openid-configuration", func(w http.ResponseWriter, _ *http.Request) {
		json.NewEncoder(w).Encode(map[string]any{"issuer": p.URL, "authorization_endpoint": p.URL + "/authorize", "token_endpoint": p.URL + "/token",
			"jwks_uri": p.URL + "/keys", "response_types_supported": []string{"code"}, "subject_types_supported": []string{"public"},
			"id_token_signing_alg_values_supported": []string{"RS256"}})
	})
	mux.HandleFunc("GET /keys", func(w http.ResponseWriter, _ *http.Request) {
		json.NewEncoder(w).Encode(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: &key.PublicKey, KeyID: "k1", Algorithm: "RS256", Use: "sig"}}})
	})
	mux.HandleFunc("GET /authorize", func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		if q.Get("client_id") != clientID {
			http.Error(w, "unknown client", http.StatusBadRequest)
			return
		}
		p.mu.Lock()
		claims := p.user
		code := fmt.Sprintf("code-%d", time.Now().UnixNano())
		claims = copyClaims(claims)
		claims["nonce"] = q.Get("nonce")
		p.codes[code] = claims
		p.mu.Unlock()
		back, _ := url.Parse(q.Get("redirect_uri"))
		v := back.Query()
		v.Set("code", code)
		v.Set("state", q.Get("state"))
		back.RawQuery = v.Encode()
		http.Redirect(w, r, back.String(), http.StatusFound)
	})
	mux.HandleFunc("POST /token", func(w http.ResponseWriter, r *http.Request) {
		id, sec, ok := r.BasicAuth()
		if !ok {
			id, sec = r.FormValue("client_id"), r.FormValue("client_secret")
		}
		if id != clientID || sec != secret {
			http.Error(w, `{"error":"invalid_client"}`, http.StatusUnauthorized)
			return
		}
		p.mu.Lock()
		claims, ok := p.codes[r.FormValue("code")]
		delete(p.codes, r.FormValue("code"))
		p.mu.Unlock()
		if !ok {
			http.Error(w, `{"error":"invalid_grant"}`, http.StatusBadRequest)
			return
		}
		signer, _ := jose.NewSigner(jose.SigningKey{Algorithm: jose.RS256, Key: key}, (&jose.SignerOptions{}).WithType("JWT").WithHeader("kid", "k1"))
		std := jwt.Claims{Issuer: p.URL, Audience: jwt.Audience{clientID}, Subject: claims["sub"], IssuedAt: jwt.NewNumericDate(time.Now()),
			Expiry: jwt.NewNumericDate(time.Now().Add(time.Hour))}
		extra := map[string]any{}
		for k, v := range claims {
			extra[k] = v
		}
		idToken, err := jwt.Signed(signer).Claims(std).Claims(extra).Serialize()
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(map[string]any{"access_token": "at", "token_type": "Bearer", "id_token": idToken, "expires_in": 3600})
	})
	p.srv = &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go p.srv.Serve(ln)
	return p, nil
}

func copyClaims(m map[string]string) map[string]string {
	out := map[string]string{}
	for k, v := range m {
		out[k] = v
	}
	return out
}

// Login makes the next sign-in that of a user with these claims (sub, email,
// preferred_username…).
func (p *OIDCProvider) Login(claims map[string]string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.user = claims
}

// Stop stops the provider.
func (p *OIDCProvider) Stop() { p.srv.Close() }
