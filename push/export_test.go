package push

// SetBeforeLease makes d run f in each claim between reading the due
// notifications and leasing them, so a test can put another instance's
// claim exactly there.
func SetBeforeLease(d *Dispatcher, f func()) { d.beforeLease = f }

// ToFCM is the message FCM gets for m, for the benchmark's ceiling.
var ToFCM = toFCM

// SMSVarsOf fills a template's variables from a notification.
var SMSVarsOf = smsVars
