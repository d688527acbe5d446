package api

import (
	"errors"
	"net/http"

	"github.com/gofiber/fiber/v2"

	"fieldsync/push"
	"fieldsync/schemas"
	"fieldsync/store"
)

// DeviceBody registers the signed-in device for pushes.
type DeviceBody struct {
	Token      string `json:"token"`
	Platform   string `json:"platform"`
	AppVersion string `json:"appVersion,omitempty"`
	Locale     string `json:"locale,omitempty"`
	TimeZone   string `json:"timeZone,omitempty"`
}

func (a *API) registerDevice(c *fiber.Ctx) error {
	var in DeviceBody
	if err := decode(c, &in); err != nil {
		return err
	}
	p := principal(c)
	t := push.Target{Token: in.Token, DeviceID: p.DeviceID, Platform: in.Platform, AppVersion: in.AppVersion, Locale: in.Locale, TimeZone: in.TimeZone}
	if err := t.Validate(); err != nil {
		return err
	}
	if err := a.targets.Register(c.UserContext(), p.User.ID, t); err != nil {
		return err
	}
	return c.SendStatus(http.StatusNoContent)
}

func (a *API) listNotifications(c *fiber.Ctx) error {
	visitID, userID := c.Query("visitId"), c.Query("userId")
	for field, id := range map[string]string{"visitId": visitID, "userId": userID} {
		if id != "" && !schemas.ValidID(id) {
			return schemas.FieldError(field, "%s must be an id", field)
		}
	}
	act := actor(c)
	if visitID == "" && userID == "" {
		return schemas.FieldError("visitId", "visitId or userId is required")
	}
	if act.Role == schemas.RoleSupervisor {
		// Supervisors see what was sent about their team's visits.
		if visitID == "" {
			return schemas.FieldError("visitId", "visitId is required")
		}
		if _, err := a.office.Visit(c.UserContext(), act, visitID); err != nil {
			return err
		}
	}
	limit, err := pageLimit(c)
	if err != nil {
		return err
	}
	ns, next, err := a.outbox.List(c.UserContext(), visitID, userID, c.Query("after"), limit)
	if errors.Is(err, store.ErrCursor) {
		return schemas.FieldError("after", "after is not a cursor this server issued for this list")
	}
	if err != nil {
		return err
	}
	return replyPage(a, c, schemas.Page[push.Notification]{Items: ns, NextCursor: next})
}

// PushMetrics counts what this instance's dispatcher did since it started.
type PushMetrics = map[string]int64

func (a *API) pushMetrics(c *fiber.Ctx) error {
	if a.metrics == nil {
		return c.JSON(PushMetrics{})
	}
	return c.JSON(a.metrics.Snapshot())
}
