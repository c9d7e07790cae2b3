package spec

import (
	"fmt"
	"strings"
)

// expandEnv replaces each ${NAME} in s with the environment variable NAME; $${ is a
// literal ${. It returns one message per bad reference: an unset variable, a bad name or
// an unclosed ${. secret names the field whose value s is when that value must not be
// printed ("" otherwise): a message then does not quote any of s.
func expandEnv(s string, lookupEnv func(string) (string, bool), secret string) (string, []string) {
	if !strings.Contains(s, "${") {
		return s, nil
	}
	var b strings.Builder
	var msgs []string
	for {
		i := strings.Index(s, "${")
		if i < 0 {
			b.WriteString(s)
			return b.String(), msgs
		}
		if i > 0 && s[i-1] == '$' { // $${: a literal ${
			b.WriteString(s[:i-1] + "${")
			s = s[i+2:]
			continue
		}
		b.WriteString(s[:i])
		end := strings.IndexByte(s[i:], '}')
		if end < 0 {
			if secret != "" {
				msgs = append(msgs, fmt.Sprintf("the value of %s has a ${ without its closing }; write ${NAME}, or $${ for a literal ${", secret))
			} else {
				msgs = append(msgs, fmt.Sprintf("%s has a ${ without its closing }; write ${NAME}, or $${ for a literal ${", quote(s[i:])))
			}
			return b.String(), msgs
		}
		name := s[i+2 : i+end]
		if !validEnvName(name) {
			ref := quote("${" + name + "}")
			if secret != "" {
				ref = "the value of " + secret
			}
			msgs = append(msgs, fmt.Sprintf("%s is not an environment variable reference: write ${NAME} with letters, digits and _, or $${ for a literal ${", ref))
		} else if val, set := lookupEnv(name); !set {
			msgs = append(msgs, fmt.Sprintf("environment variable %s is not set", name))
		} else {
			b.WriteString(val)
		}
		s = s[i+end+1:]
	}
}

// validEnvName reports whether s is a shell variable name: a letter or _, then letters,
// digits and _.
func validEnvName(s string) bool {
	if s == "" {
		return false
	}
	for i, c := range s {
		if c == '_' || c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || i > 0 && c >= '0' && c <= '9' {
			continue
		}
		return false
	}
	return true
}
