package schemas

// Actor is who performs an action: the signed-in user with what the access
// rules need to know about them.
type Actor struct {
	UserID     string
	Role       Role
	Team       string // supervisors: the team they lead
	WorkerID   string // workers: their worker record
	CustomerID string // customers: their customer record
	DeviceID   string
}
