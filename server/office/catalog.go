package office

import (
	"context"
	"errors"

	"fieldsync/schemas"
	"fieldsync/store"
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
	st := &schemas.ServiceType{ID: schemas.NewIDAt(now), ServiceTypeInput: in, CreatedAt: now, UpdatedAt: now}
	if err := s.records.InsertServiceType(ctx, st); err != nil {
		return nil, catalogErr(err, st.Code)
	}
	return st, s.audit(ctx, a, schemas.EntityServiceType, st.ID, "create", 1, nil, st, nil, "")
}

// ServiceType returns a catalog entry; the catalog is visible to everyone
// signed in.
func (s *Service) ServiceType(ctx context.Context, id string) (*schemas.ServiceType, error) {
	return s.serviceType(ctx, id)
}

// ListServiceTypes lists a page of the catalog, and returns the after of
// the next page ("" at the end); non-office roles see active entries only.
func (s *Service) ListServiceTypes(ctx context.Context, a *schemas.Actor, after string, limit int) ([]schemas.ServiceType, string, error) {
	office := a.Role == schemas.RoleAdmin || a.Role == schemas.RoleSupervisor
	sts, next, err := s.records.ServiceTypes(ctx, !office, after, limit)
	return sts, next, recordErr(err, "service type")
}

// catalogErr is a taken code as the conflict clients see.
func catalogErr(err error, code string) error {
	if errors.Is(err, store.ErrDuplicate) {
		return schemas.Errorf(schemas.ECONFLICT, "service code %q is taken", code).With("field", "code")
	}
	return recordErr(err, "service type")
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
	before, err := s.serviceType(ctx, id)
	if err != nil {
		return nil, err
	}
	if version != before.Version {
		return nil, staleVersion("service type", before.Version)
	}
	after := *before
	after.ServiceTypeInput = in
	after.UpdatedAt = s.now().UTC()
	if err := s.records.ReplaceServiceType(ctx, &after, before.Version); err != nil {
		return nil, catalogErr(err, in.Code)
	}
	return &after, s.audit(ctx, a, schemas.EntityServiceType, id, "update", after.Version, before, &after, nil, "")
}
