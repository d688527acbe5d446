package api

import (
	"context"

	"github.com/gofiber/fiber/v2"

	"fieldsync/schemas"
)

// The shapes most handlers share: take the path id and/or the body, call
// the service as the signed-in actor, answer with JSON. Handlers stay one
// line where the service already has the shape.

// byID answers GET .../:id.
func byID[T any](c *fiber.Ctx, get func(context.Context, *schemas.Actor, string) (T, error)) error {
	id, err := pathID(c)
	if err != nil {
		return err
	}
	v, err := get(c.UserContext(), actor(c), id)
	if err != nil {
		return err
	}
	return c.JSON(v)
}

// withBody decodes the body and answers with status.
func withBody[In, Out any](c *fiber.Ctx, status int, f func(context.Context, *schemas.Actor, In) (Out, error)) error {
	var in In
	if err := decode(c, &in); err != nil {
		return err
	}
	v, err := f(c.UserContext(), actor(c), in)
	if err != nil {
		return err
	}
	return c.Status(status).JSON(v)
}

// withIDBody takes the path id and the body, and answers with status.
func withIDBody[In, Out any](c *fiber.Ctx, status int, f func(context.Context, *schemas.Actor, string, In) (Out, error)) error {
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
	return c.Status(status).JSON(v)
}
