package api

import (
	"time"

	"github.com/gofiber/fiber/v2"

	"fieldsync/schemas"
	fsync "fieldsync/sync"
)

// PushBody is a batch of operations from a phone.
type PushBody = fsync.Batch

// PresenceSecret is what a customer's app needs to show presence codes.
type PresenceSecret struct {
	Secret    string `json:"secret"` // base32, for a TOTP generator
	Algorithm string `json:"algorithm"`
	Digits    int    `json:"digits"`
	Period    int    `json:"period"` // seconds
	Code      string `json:"code"`   // the code right now
}

// ReviewBody resolves what needed review on a visit.
type ReviewBody struct {
	Note string `json:"note"`
}

func (a *API) syncPush(c *fiber.Ctx) error {
	var b fsync.Batch
	if err := decode(c, &b); err != nil {
		return err
	}
	start := time.Now()
	resp, err := a.sync.Push(c.UserContext(), actor(c), &b)
	if err != nil {
		return err
	}
	if a.obs != nil {
		a.obs.SyncPushed(len(b.Ops), resp, time.Since(start))
	}
	return a.reply(c, fiber.StatusOK, resp)
}

func (a *API) syncPull(c *fiber.Ctx) error {
	start := time.Now()
	resp, err := a.sync.Pull(c.UserContext(), actor(c), c.Query("cursor"), a.office)
	if err != nil {
		return err
	}
	if a.obs != nil {
		a.obs.SyncPulled(resp, time.Since(start))
	}
	return a.reply(c, fiber.StatusOK, resp)
}

func (a *API) syncDevice(c *fiber.Ctx) error {
	st, err := a.sync.DeviceState(c.UserContext(), actor(c))
	if err != nil {
		return err
	}
	return a.reply(c, fiber.StatusOK, st)
}

func (a *API) syncDevices(c *fiber.Ctx) error {
	w := c.Query("workerId")
	if w != "" && !schemas.ValidID(w) {
		return schemas.FieldError("workerId", "workerId must be an id")
	}
	ds, err := a.sync.Devices(c.UserContext(), actor(c), w)
	if err != nil {
		return err
	}
	return replyPage(a, c, schemas.Page[fsync.Device]{Items: ds})
}

func (a *API) presenceSecret(c *fiber.Ctx) error {
	id, err := pathID(c)
	if err != nil {
		return err
	}
	act := actor(c)
	if _, err := a.office.Visit(c.UserContext(), act, id); err != nil {
		return err
	}
	p := a.presence
	return a.reply(c, fiber.StatusOK, &PresenceSecret{Secret: p.Secret(id), Algorithm: "SHA1", Digits: fsync.PresenceDigits,
		Period: int(p.Step.Seconds()), Code: p.Code(id, a.now())})
}

func (a *API) listReviews(c *fiber.Ctx) error {
	return queue(a, c, reviewFilter, a.office.Reviews)
}

func (a *API) resolveReview(c *fiber.Ctx) error {
	id, err := pathID(c)
	if err != nil {
		return err
	}
	var in ReviewBody
	if err := decode(c, &in); err != nil {
		return err
	}
	v, err := a.office.ResolveReview(c.UserContext(), actor(c), id, in.Note)
	if err != nil {
		return err
	}
	return a.reply(c, fiber.StatusOK, v)
}

// answerScope records the household's answer to a change of scope.
func (a *API) answerScope(c *fiber.Ctx) error {
	id, err := pathID(c)
	if err != nil {
		return err
	}
	var in fsync.ScopeAnswer
	if err := decode(c, &in); err != nil {
		return err
	}
	changeID := c.Params("changeId")
	if !schemas.ValidID(changeID) {
		return schemas.Errorf(schemas.ENOTFOUND, "no such change of scope")
	}
	v, err := a.sync.AnswerScope(c.UserContext(), actor(c), id, changeID, in)
	if err != nil {
		return err
	}
	return a.reply(c, fiber.StatusOK, v)
}
