package api

import (
	"net/http"

	"github.com/gofiber/fiber/v2"

	"fieldsync/schemas"
	"fieldsync/server/auth"
)

// Status is the body of the health endpoints.
type Status struct {
	Status string `json:"status"`
}

func (a *API) healthz(c *fiber.Ctx) error { return c.JSON(Status{"ok"}) }

func (a *API) readyz(c *fiber.Ctx) error {
	if a.draining.Load() {
		return schemas.Errorf(schemas.EUNAVAILABLE, "shutting down")
	}
	if err := a.store.Health(c.UserContext()); err != nil {
		a.log.Warn("store ping failed", "err", err)
		return schemas.Errorf(schemas.EUNAVAILABLE, "store not ready")
	}
	return c.JSON(Status{"ready"})
}

// LoginRequest is the body of POST /v1/auth/login.
type LoginRequest struct {
	Login    string `json:"login"`
	Password string `json:"password"`
	DeviceID string `json:"deviceId"`
}

// Validate checks presence and bounds; the password policy is not applied
// here so accounts made under an older policy can still sign in.
func (r *LoginRequest) Validate() error {
	if r.Login == "" || len(r.Login) > 256 {
		return schemas.FieldError("login", "login is required")
	}
	if r.Password == "" || len(r.Password) > 1024 {
		return schemas.FieldError("password", "password is required")
	}
	return schemas.ValidateDeviceID(r.DeviceID)
}

// RefreshRequest is the body of POST /v1/auth/refresh.
type RefreshRequest struct {
	RefreshToken string `json:"refreshToken"`
	DeviceID     string `json:"deviceId"` // must be the session's device
}

// Validate checks presence: a refresh token works only with the device id
// of its session, so the binding cannot be skipped by leaving it out.
func (r *RefreshRequest) Validate() error {
	if r.RefreshToken == "" {
		return schemas.FieldError("refreshToken", "refreshToken is required")
	}
	return schemas.ValidateDeviceID(r.DeviceID)
}

// TokenResponse is what login and refresh return.
type TokenResponse = auth.TokenPair

func (a *API) login(c *fiber.Ctx) error {
	var req LoginRequest
	if err := decode(c, &req); err != nil {
		return err
	}
	pair, err := a.auth.Login(c.UserContext(), req.Login, req.Password, req.DeviceID, c.IP())
	if err != nil {
		return err
	}
	if pair.NextSeq, err = a.sync.NextSeq(c.UserContext(), pair.UserID(), req.DeviceID); err != nil {
		return err
	}
	c.Set(fiber.HeaderCacheControl, "no-store")
	return c.JSON(pair)
}

func (a *API) refresh(c *fiber.Ctx) error {
	var req RefreshRequest
	if err := decode(c, &req); err != nil {
		return err
	}
	pair, err := a.auth.Refresh(c.UserContext(), req.RefreshToken, req.DeviceID)
	if err != nil {
		return err
	}
	if pair.NextSeq, err = a.sync.NextSeq(c.UserContext(), pair.UserID(), req.DeviceID); err != nil {
		return err
	}
	c.Set(fiber.HeaderCacheControl, "no-store")
	return c.JSON(pair)
}

func (a *API) logout(c *fiber.Ctx) error {
	p := principal(c)
	if err := a.auth.Logout(c.UserContext(), p); err != nil {
		return err
	}
	// A signed-out device gets no more pushes.
	if err := a.targets.RemoveDevice(c.UserContext(), p.User.ID, p.DeviceID); err != nil {
		return err
	}
	return c.SendStatus(http.StatusNoContent)
}

func (a *API) me(c *fiber.Ctx) error { return c.JSON(principal(c).User) }
