package api

import (
	"errors"
	"net/http"

	"github.com/gofiber/fiber/v2"

	"fieldsync/schemas"
	"fieldsync/store"
)

// UserPage is one page of accounts.
type UserPage struct {
	Items      []schemas.User `json:"items"`
	NextCursor string         `json:"nextCursor,omitempty"`
}

func (a *API) listUsers(c *fiber.Ctx) error {
	limit, err := pageLimit(c)
	if err != nil {
		return err
	}
	f := store.UserFilter{Role: schemas.Role(c.Query("role")), After: c.Query("after"), Limit: limit + 1}
	if f.Role != "" && !f.Role.Valid() {
		return schemas.FieldError("role", "role must be one of admin, supervisor, worker, customer")
	}
	if f.After != "" && !schemas.ValidID(f.After) {
		return schemas.FieldError("after", "after is not a cursor this server issued")
	}
	users, err := a.store.Accounts.ListUsers(c.UserContext(), f)
	if err != nil {
		return err
	}
	page := UserPage{Items: users}
	if len(users) > limit {
		page.Items = users[:limit]
		page.NextCursor = users[limit-1].ID
	}
	return c.JSON(page)
}

func (a *API) createUser(c *fiber.Ctx) error {
	var in schemas.NewUser
	if err := decode(c, &in); err != nil {
		return err
	}
	u, err := a.auth.CreateUser(c.UserContext(), in)
	if err != nil {
		return err
	}
	return c.Status(http.StatusCreated).JSON(u)
}

func (a *API) getUser(c *fiber.Ctx) error {
	id, err := pathID(c)
	if err != nil {
		return err
	}
	u, err := a.store.Accounts.UserByID(c.UserContext(), id)
	if errors.Is(err, store.ErrNotFound) {
		return schemas.Errorf(schemas.ENOTFOUND, "user not found")
	}
	if err != nil {
		return err
	}
	return c.JSON(u)
}

func (a *API) updateUser(c *fiber.Ctx) error {
	id, err := pathID(c)
	if err != nil {
		return err
	}
	var in schemas.UserUpdate
	if err := decode(c, &in); err != nil {
		return err
	}
	if id == principal(c).User.ID && in.Disabled != nil && *in.Disabled {
		return schemas.Errorf(schemas.ECONFLICT, "you cannot disable your own account")
	}
	u, err := a.auth.UpdateUser(c.UserContext(), id, in)
	if err != nil {
		return err
	}
	return c.JSON(u)
}

// pathID returns the :id parameter; a malformed id cannot name anything, so
// it is ENOTFOUND like any id the caller may not see.
func pathID(c *fiber.Ctx) (string, error) {
	id := c.Params("id")
	if !schemas.ValidID(id) {
		return "", schemas.Errorf(schemas.ENOTFOUND, "not found")
	}
	return id, nil
}

// pageLimit reads ?limit= (1-200, default 50).
func pageLimit(c *fiber.Ctx) (int, error) {
	if c.Query("limit") == "" {
		return defaultPageLimit, nil
	}
	v := c.QueryInt("limit", -1)
	if v < 1 || v > maxPageLimit {
		return 0, schemas.FieldError("limit", "limit must be an integer from 1 to 200")
	}
	return v, nil
}
