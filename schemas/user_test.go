package schemas

import (
	"strings"
	"testing"
)

func TestNewUserValidate(t *testing.T) {
	ok := NewUser{Login: " Wang.Li ", Password: "long enough pw", Name: "王丽", Role: RoleWorker}
	cases := []struct {
		name  string
		mut   func(*NewUser)
		field string // "" means valid
	}{
		{"valid", func(*NewUser) {}, ""},
		{"short login", func(u *NewUser) { u.Login = "ab" }, "login"},
		{"long login", func(u *NewUser) { u.Login = strings.Repeat("a", 65) }, "login"},
		{"login with space", func(u *NewUser) { u.Login = "a b c" }, "login"},
		{"login with $", func(u *NewUser) { u.Login = "$where" }, "login"},
		{"short password", func(u *NewUser) { u.Password = "123456789" }, "password"},
		{"long password", func(u *NewUser) { u.Password = strings.Repeat("x", 129) }, "password"},
		{"empty name", func(u *NewUser) { u.Name = "  " }, "name"},
		{"control in name", func(u *NewUser) { u.Name = "a\x07" }, "name"},
		{"unknown role", func(u *NewUser) { u.Role = "root" }, "role"},
		{"empty role", func(u *NewUser) { u.Role = "" }, "role"},
		{"bad locale", func(u *NewUser) { u.Locale = "fr" }, "locale"},
		{"long team", func(u *NewUser) { u.Team = strings.Repeat("t", 65) }, "team"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			u := ok
			c.mut(&u)
			err := u.Validate()
			if c.field == "" {
				if err != nil {
					t.Fatalf("unexpected error %v", err)
				}
				if u.Login != "wang.li" {
					t.Fatalf("login not normalized: %q", u.Login)
				}
				return
			}
			e, isErr := err.(*Error)
			if !isErr || e.Code != EINVALID || e.Details["field"] != c.field {
				t.Fatalf("err = %#v, want EINVALID on %s", err, c.field)
			}
		})
	}
}

func TestValidateDeviceID(t *testing.T) {
	for id, valid := range map[string]bool{
		"phone-1": true, "A1B2C3D4-0000-4000-8000-000000000000": true,
		"": false, "a b": false, "设备": false, strings.Repeat("x", 129): false, "tab\t": false,
	} {
		if got := ValidateDeviceID(id) == nil; got != valid {
			t.Errorf("ValidateDeviceID(%q) valid=%v, want %v", id, got, valid)
		}
	}
}

func TestErrorHelpers(t *testing.T) {
	if ErrorCode(nil) != "" || ErrorMessage(nil) != "" {
		t.Fatal("nil error has a code")
	}
	wrapped := errorsJoin(Errorf(ECONFLICT, "taken"))
	if ErrorCode(wrapped) != ECONFLICT || ErrorMessage(wrapped) != "taken" {
		t.Fatalf("wrapped: %q %q", ErrorCode(wrapped), ErrorMessage(wrapped))
	}
	plain := errorsNew("dial tcp: secret host")
	if ErrorCode(plain) != EINTERNAL || ErrorMessage(plain) != "internal error" {
		t.Fatal("internal error cause leaks")
	}
	e := FieldError("a", "bad").With("b", 1)
	if e.Details["field"] != "a" || e.Details["b"] != 1 {
		t.Fatalf("details %v", e.Details)
	}
}
