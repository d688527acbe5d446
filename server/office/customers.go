package office

import (
	"context"
	"slices"

	"fieldsync/schemas"
	"fieldsync/store"
)

// CreateCustomer adds a customer; admins, or supervisors for their team.
func (s *Service) CreateCustomer(ctx context.Context, a *schemas.Actor, in schemas.CustomerInput) (*schemas.Customer, error) {
	switch a.Role {
	case schemas.RoleAdmin:
	case schemas.RoleSupervisor:
		if in.Team == "" {
			in.Team = a.Team
		}
		if a.Team == "" || in.Team != a.Team { // no team adds no team's customers
			return nil, forbidden()
		}
	default:
		return nil, forbidden()
	}
	if err := in.Validate(); err != nil {
		return nil, err
	}
	if err := s.checkDoNotSend(ctx, a, nil, in.DoNotSend); err != nil {
		return nil, err
	}
	now := s.now().UTC()
	in.NameAddresses(now)
	c := &schemas.Customer{ID: schemas.NewIDAt(now), CustomerInput: in, CreatedAt: now, UpdatedAt: now}
	if err := s.records.InsertCustomer(ctx, c); err != nil {
		return nil, err
	}
	return c, s.audit(ctx, a, schemas.EntityCustomer, c.ID, "create", 1, nil, c, maskCustomer, "")
}

// Customer returns a customer the actor may see: admins any; supervisors
// their team's and those their team visits; customers themselves. Workers
// see customer details only through their visits.
func (s *Service) Customer(ctx context.Context, a *schemas.Actor, id string) (*schemas.Customer, error) {
	c, err := s.customer(ctx, id)
	if err != nil {
		return nil, err
	}
	ok, err := s.canSeeCustomer(ctx, a, c)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, errNotFound("customer")
	}
	return c, nil
}

func (s *Service) canSeeCustomer(ctx context.Context, a *schemas.Actor, c *schemas.Customer) (bool, error) {
	switch a.Role {
	case schemas.RoleAdmin:
		return true, nil
	case schemas.RoleSupervisor:
		if a.Team == "" {
			// A supervisor of no team sees nobody's customers: not the
			// teamless ones either ("" is no team, not a team).
			return false, nil
		}
		if c.Team == a.Team {
			return true, nil
		}
		return s.db.Visits.TeamHasCustomer(ctx, a.Team, c.ID)
	case schemas.RoleCustomer:
		return c.ID == a.CustomerID, nil
	}
	return false, nil
}

// ListCustomers lists a page of the customers the actor may see, and
// returns the After of the next page ("" at the end).
func (s *Service) ListCustomers(ctx context.Context, a *schemas.Actor, f store.CustomerFilter) ([]schemas.Customer, string, error) {
	switch a.Role {
	case schemas.RoleAdmin:
	case schemas.RoleSupervisor:
		if a.Team == "" {
			return []schemas.Customer{}, "", nil
		}
		ids, err := s.db.Visits.CustomersOfTeam(ctx, a.Team)
		if err != nil {
			return nil, "", err
		}
		if ids == nil {
			ids = []string{}
		}
		f.Team, f.IDs = a.Team, ids
	default:
		return nil, "", forbidden()
	}
	cs, next, err := s.records.Customers(ctx, f)
	return cs, next, recordErr(err, "customer")
}

// visibleCustomerIDs lists the ids of every customer a supervisor may see:
// their team's and those their team visits.
func (s *Service) visibleCustomerIDs(ctx context.Context, team string) ([]string, error) {
	ids, err := s.db.Visits.CustomersOfTeam(ctx, team)
	if err != nil {
		return nil, err
	}
	own := []string{}
	if team != "" {
		if own, err = s.records.CustomerIDsOfTeam(ctx, team); err != nil {
			return nil, err
		}
	}
	return append(own, ids...), nil
}

// canEditCustomer is the write rule of a customer record: admins any;
// supervisors only the customers of their own team, and they may not move
// one to another team or out of every team (an admin's call). Seeing a
// customer because the team visits them is not editing them.
func canEditCustomer(a *schemas.Actor, before *schemas.Customer, in schemas.CustomerInput) bool {
	switch a.Role {
	case schemas.RoleAdmin:
		return true
	case schemas.RoleSupervisor:
		return a.Team != "" && before.Team == a.Team && in.Team == a.Team
	}
	return false
}

// UpdateCustomer replaces the editable fields at the expected version
// (the API has checked the body names every one of them). Visits already
// planned keep their address snapshot.
func (s *Service) UpdateCustomer(ctx context.Context, a *schemas.Actor, id string, version int64, in schemas.CustomerInput) (*schemas.Customer, error) {
	if a.Role != schemas.RoleAdmin && a.Role != schemas.RoleSupervisor {
		return nil, forbidden()
	}
	before, err := s.Customer(ctx, a, id)
	if err != nil {
		return nil, err
	}
	if !canEditCustomer(a, before, in) {
		return nil, forbidden()
	}
	if err := in.Validate(); err != nil {
		return nil, err
	}
	if err := s.checkDoNotSend(ctx, a, before.DoNotSend, in.DoNotSend); err != nil {
		return nil, err
	}
	if version != before.Version {
		return nil, staleVersion("customer", before.Version)
	}
	now := s.now().UTC()
	in.NameAddresses(now)
	after := *before
	after.CustomerInput = in
	after.UpdatedAt = now
	if err := s.records.ReplaceCustomer(ctx, &after, before.Version); err != nil {
		return nil, recordErr(err, "customer")
	}
	// Phones holding this household's visits pull the new details.
	if _, err := s.db.Changes.Append(ctx, &store.Change{Kind: store.ChangeCustomers, CustomerIDs: []string{id}}); err != nil {
		return nil, err
	}
	return &after, s.audit(ctx, a, schemas.EntityCustomer, id, "update", after.Version, before, &after, maskCustomer, "")
}

// checkDoNotSend checks that the workers added to a household's
// do-not-send list are workers the actor can see; those already on it
// stay, whoever added them.
func (s *Service) checkDoNotSend(ctx context.Context, a *schemas.Actor, before, after []string) error {
	for _, id := range after {
		if slices.Contains(before, id) {
			continue
		}
		if _, err := s.Worker(ctx, a, id); err != nil {
			return asField(err, "doNotSend")
		}
	}
	return nil
}
