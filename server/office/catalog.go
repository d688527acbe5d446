package office

import (
	"context"

	"fieldsync/schemas"
)

// CreateServiceType adds a catalog entry; admins only.
func (s *Service) CreateServiceType(ctx context.Context, a *schemas.Actor, in schemas.ServiceTypeInput) (*schemas.ServiceType, error) {
	if a.Role != schemas.RoleAdmin {
		return nil, forbidden()
	}
	if err := in.Validate(); err != nil {
		return nil, err
	}
	now := s.now().UTC()
	st := &schemas.ServiceType{ID: schemas.NewIDAt(now), ServiceTypeInput: in, Version: 1, CreatedAt: now, UpdatedAt: now}
	if err := s.db.InsertServiceType(ctx, st); err != nil {
		return nil, err
	}
	return st, s.audit(ctx, a, schemas.EntityServiceType, st.ID, "create", 1, nil, st, nil, "")
}

// ServiceType returns a catalog entry; the catalog is visible to everyone
// signed in.
func (s *Service) ServiceType(ctx context.Context, id string) (*schemas.ServiceType, error) {
	return s.db.ServiceTypeByID(ctx, id)
}

// ListServiceTypes lists the catalog; non-office roles see active entries only.
func (s *Service) ListServiceTypes(ctx context.Context, a *schemas.Actor, after string, limit int) ([]schemas.ServiceType, error) {
	office := a.Role == schemas.RoleAdmin || a.Role == schemas.RoleSupervisor
	return s.db.ListServiceTypes(ctx, !office, after, limit)
}

// UpdateServiceType replaces a catalog entry at the expected version. Visits
// already planned keep the checklist they were given.
func (s *Service) UpdateServiceType(ctx context.Context, a *schemas.Actor, id string, version int64, in schemas.ServiceTypeInput) (*schemas.ServiceType, error) {
	if a.Role != schemas.RoleAdmin {
		return nil, forbidden()
	}
	if err := in.Validate(); err != nil {
		return nil, err
	}
	before, err := s.db.ServiceTypeByID(ctx, id)
	if err != nil {
		return nil, err
	}
	if version != before.Version {
		return nil, staleVersion("service type", before.Version)
	}
	after := *before
	after.ServiceTypeInput = in
	after.Version++
	after.UpdatedAt = s.now().UTC()
	if err := s.db.ReplaceServiceType(ctx, &after, before.Version); err != nil {
		return nil, err
	}
	return &after, s.audit(ctx, a, schemas.EntityServiceType, id, "update", after.Version, before, &after, nil, "")
}
