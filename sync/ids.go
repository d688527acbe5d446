package sync

import "github.com/google/uuid"

var nsFieldsync = uuid.NewSHA1(uuid.NameSpaceOID, []byte("fieldsync"))

// IncidentID is the id of the incident an operation reported: derived, so
// applying the operation twice records one incident.
func IncidentID(opID string) string {
	return uuid.NewSHA1(nsFieldsync, []byte("incident/"+opID)).String()
}

// AlertID is the id of the alert a cause raises: derived, so recording the
// cause twice raises one alert.
func AlertID(parts ...string) string {
	key := "alert"
	for _, p := range parts {
		key += "/" + p
	}
	return uuid.NewSHA1(nsFieldsync, []byte(key)).String()
}
