package schemas

import (
	"errors"
	"fmt"
)

func errorsJoin(err error) error { return fmt.Errorf("store: %w", err) }
func errorsNew(s string) error   { return errors.New(s) }
