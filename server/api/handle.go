package api

import (
	"context"
	"encoding/json"
	"reflect"
	"strings"

	"github.com/gofiber/fiber/v2"

	"fieldsync/schemas"
	"fieldsync/server/office"
)

// The shapes most handlers share: take the path id and/or the body, call
// the service as the signed-in actor, answer with JSON through the
// caller's view (reply). Handlers stay one line where the service already
// has the shape.

// byID answers GET .../:id.
func byID[T any](a *API, c *fiber.Ctx, get func(context.Context, *schemas.Actor, string) (T, error)) error {
	id, err := pathID(c)
	if err != nil {
		return err
	}
	v, err := get(c.UserContext(), actor(c), id)
	if err != nil {
		return err
	}
	return a.reply(c, fiber.StatusOK, v)
}

// withBody decodes the body and answers with status.
func withBody[In, Out any](a *API, c *fiber.Ctx, status int, f func(context.Context, *schemas.Actor, In) (Out, error)) error {
	var in In
	if err := decode(c, &in); err != nil {
		return err
	}
	v, err := f(c.UserContext(), actor(c), in)
	if err != nil {
		return err
	}
	return a.reply(c, status, v)
}

// withIDBody takes the path id and the body, and answers with status.
func withIDBody[In, Out any](a *API, c *fiber.Ctx, status int, f func(context.Context, *schemas.Actor, string, In) (Out, error)) error {
	id, err := pathID(c)
	if err != nil {
		return err
	}
	var in In
	if err := decode(c, &in); err != nil {
		return err
	}
	v, err := f(c.UserContext(), actor(c), id, in)
	if err != nil {
		return err
	}
	return a.reply(c, status, v)
}

// replaceByID answers PUT .../:id. A PUT replaces the record, so its body
// must name every field of In: a field left out would otherwise be
// cleared without anyone asking (a customer silently leaving its team).
func replaceByID[In, Out any](a *API, c *fiber.Ctx, f func(context.Context, *schemas.Actor, string, In) (Out, error)) error {
	id, err := pathID(c)
	if err != nil {
		return err
	}
	var in In
	if err := decode(c, &in); err != nil {
		return err
	}
	if err := namesEvery(c.Body(), reflect.TypeOf(in)); err != nil {
		return err
	}
	v, err := f(c.UserContext(), actor(c), id, in)
	if err != nil {
		return err
	}
	return a.reply(c, fiber.StatusOK, v)
}

// namesEvery checks that a JSON object names every field of t.
func namesEvery(body []byte, t reflect.Type) error {
	var keys map[string]json.RawMessage
	if err := json.Unmarshal(body, &keys); err != nil {
		return schemas.Errorf(schemas.EINVALID, "request body must be a JSON object")
	}
	var missing []string
	for _, name := range jsonFields(t) {
		if _, ok := keys[name]; !ok {
			missing = append(missing, name)
		}
	}
	if len(missing) > 0 {
		return schemas.FieldError(missing[0], "a PUT replaces the whole record: send every field as you loaded it, with your changes (missing: %s)",
			strings.Join(missing, ", ")).With("missing", missing)
	}
	return nil
}

// jsonFields lists the JSON names of a struct's fields, embedded ones
// included, in order.
func jsonFields(t reflect.Type) []string {
	var out []string
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		tag := f.Tag.Get("json")
		if tag == "-" || !f.IsExported() {
			continue
		}
		name, _, _ := strings.Cut(tag, ",")
		if f.Anonymous && name == "" && f.Type.Kind() == reflect.Struct {
			out = append(out, jsonFields(f.Type)...)
			continue
		}
		if name == "" {
			name = f.Name
		}
		out = append(out, name)
	}
	return out
}

// queue answers a page of an office queue: its filters read from the
// query, the list scoped to the actor, each item in the actor's view.
func queue[T any](a *API, c *fiber.Ctx, filter []filterParam, list func(context.Context, *schemas.Actor, office.Page) (schemas.Page[T], error)) error {
	p, err := queuePage(c, filter)
	if err != nil {
		return err
	}
	items, err := list(c.UserContext(), actor(c), p)
	if err != nil {
		return err
	}
	return replyPage(a, c, items)
}
