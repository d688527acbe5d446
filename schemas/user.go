package schemas

import (
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/secure/precis"
)

// Role is what a user may do. Each user has exactly one.
type Role string

const (
	RoleAdmin      Role = "admin"
	RoleSupervisor Role = "supervisor"
	RoleWorker     Role = "worker"
	RoleCustomer   Role = "customer"
)

// Roles lists every role, in order of decreasing power.
var Roles = []Role{RoleAdmin, RoleSupervisor, RoleWorker, RoleCustomer}

// Valid reports whether r is a known role.
func (r Role) Valid() bool {
	for _, x := range Roles {
		if r == x {
			return true
		}
	}
	return false
}

// User is an account that can sign in. The worker and customer records it
// may be linked to live in their own documents.
type User struct {
	ID           string    `json:"id" bson:"_id"`
	Login        string    `json:"login" bson:"login"`
	Name         string    `json:"name" bson:"name"`
	Role         Role      `json:"role" bson:"role"`
	Disabled     bool      `json:"disabled" bson:"disabled"`
	PasswordHash string    `json:"-" bson:"passwordHash"`
	WorkerID     string    `json:"workerId,omitempty" bson:"workerId"`     // always stored: indexed
	CustomerID   string    `json:"customerId,omitempty" bson:"customerId"` // always stored: indexed
	Team         string    `json:"team,omitempty" bson:"team"`             // always stored: indexed
	Locale       string    `json:"locale,omitempty" bson:"locale,omitempty"`
	CreatedAt    time.Time `json:"createdAt" bson:"createdAt"`
	UpdatedAt    time.Time `json:"updatedAt" bson:"updatedAt"`
}

// NormalizeLogin folds a login to the form it is stored and looked up in,
// at creation and at sign-in alike: the PRECIS UsernameCaseMapped profile
// (RFC 8265: fullwidth letters to their ASCII form, lower case, NFC), so
// "ｗorker1" and "WORKER1" are "worker1". A login the profile refuses
// (spaces, symbols, control characters) is an EINVALID error.
func NormalizeLogin(s string) (string, error) {
	out, err := precis.UsernameCaseMapped.String(strings.TrimSpace(s))
	if err != nil {
		return "", FieldError("login", "login may contain only letters, digits and . _ - @ +").With("reason", "login_characters")
	}
	return out, nil
}

// ValidateLogin checks a normalized login: 3-64 characters of ASCII letters
// and digits, Chinese characters (Han) and . _ - @ +. Keeping to two
// scripts that cannot be mistaken for each other leaves no room for
// look-alikes: a Cyrillic "о" in "wоrker1" or a Greek "Α" in "ΑDMIN" is
// refused, as are accented Latin letters ("ŵorker1").
func ValidateLogin(login string) error {
	n := utf8.RuneCountInString(login)
	if n < 3 || n > 64 {
		return FieldError("login", "login must be 3 to 64 characters")
	}
	for _, r := range login {
		switch {
		case 'a' <= r && r <= 'z', '0' <= r && r <= '9', strings.ContainsRune("._-@+", r), unicode.Is(unicode.Han, r):
		case unicode.IsLetter(r) || unicode.IsDigit(r):
			return FieldError("login", "login may use only ASCII letters and digits or Chinese characters, not %q (look-alikes of other logins)", r).With("reason", "login_script")
		default:
			return FieldError("login", "login may contain only letters, digits and . _ - @ +").With("reason", "login_characters")
		}
	}
	return nil
}

// ValidatePassword applies the password policy: at least 10 characters
// (NIST SP 800-63B favours length over composition rules), at most 128.
func ValidatePassword(pw string) error {
	n := utf8.RuneCountInString(pw)
	if n < 10 {
		return FieldError("password", "password must be at least 10 characters")
	}
	if n > 128 {
		return FieldError("password", "password must be at most 128 characters")
	}
	return nil
}

// ValidateName checks a display name: 1-100 characters, no control characters.
func ValidateName(field, name string) error {
	n := utf8.RuneCountInString(strings.TrimSpace(name))
	if n < 1 || n > 100 {
		return FieldError(field, "%s must be 1 to 100 characters", field)
	}
	for _, r := range name {
		if unicode.IsControl(r) {
			return FieldError(field, "%s must not contain control characters", field)
		}
	}
	return nil
}

// ValidateDeviceID checks a device id sent by an app: 1-128 printable ASCII
// characters without spaces.
func ValidateDeviceID(id string) error {
	if len(id) < 1 || len(id) > 128 {
		return FieldError("deviceId", "deviceId must be 1 to 128 characters")
	}
	for i := 0; i < len(id); i++ {
		if id[i] <= ' ' || id[i] > '~' {
			return FieldError("deviceId", "deviceId must be printable ASCII without spaces")
		}
	}
	return nil
}

// NewUser is what an admin supplies to create an account.
type NewUser struct {
	Login      string `json:"login"`
	Password   string `json:"password"`
	Name       string `json:"name"`
	Role       Role   `json:"role"`
	Team       string `json:"team,omitempty"`
	WorkerID   string `json:"workerId,omitempty"`
	CustomerID string `json:"customerId,omitempty"`
	Locale     string `json:"locale,omitempty"`
}

// Validate normalizes the login and checks every field.
func (u *NewUser) Validate() error {
	login, err := NormalizeLogin(u.Login)
	if err != nil {
		return err
	}
	u.Login = login
	if err := ValidateLogin(u.Login); err != nil {
		return err
	}
	if err := ValidatePassword(u.Password); err != nil {
		return err
	}
	if err := ValidateName("name", u.Name); err != nil {
		return err
	}
	if !u.Role.Valid() {
		return FieldError("role", "role must be one of admin, supervisor, worker, customer")
	}
	if len(u.Team) > 64 {
		return FieldError("team", "team must be at most 64 characters")
	}
	if err := ValidateLocale(u.Locale); err != nil {
		return err
	}
	return nil
}

// UserUpdate is a partial change to an account; nil fields stay as they are.
type UserUpdate struct {
	Name     *string `json:"name,omitempty"`
	Disabled *bool   `json:"disabled,omitempty"`
	Password *string `json:"password,omitempty"`
	Team     *string `json:"team,omitempty"`
	Locale   *string `json:"locale,omitempty"`
}

// Validate checks the fields that are set.
func (u *UserUpdate) Validate() error {
	if u.Name == nil && u.Disabled == nil && u.Password == nil && u.Team == nil && u.Locale == nil {
		return Errorf(EINVALID, "nothing to update")
	}
	if u.Name != nil {
		if err := ValidateName("name", *u.Name); err != nil {
			return err
		}
	}
	if u.Password != nil {
		if err := ValidatePassword(*u.Password); err != nil {
			return err
		}
	}
	if u.Team != nil && len(*u.Team) > 64 {
		return FieldError("team", "team must be at most 64 characters")
	}
	if u.Locale != nil {
		if err := ValidateLocale(*u.Locale); err != nil {
			return err
		}
	}
	return nil
}

// Locales the apps are translated into; zh-CN is the default.
var Locales = []string{"zh-CN", "en"}

// ValidateLocale accepts "" (use the default) or a supported locale.
func ValidateLocale(l string) error {
	if l == "" {
		return nil
	}
	for _, x := range Locales {
		if l == x {
			return nil
		}
	}
	return FieldError("locale", "locale must be one of zh-CN, en")
}
