package push

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"

	"fieldsync/schemas"
	"fieldsync/store"
)

// CertificateNotice is how many days before a certificate expires its
// worker and their supervisors are warned: time to renew it before the
// worker can no longer be booked on visits that require it.
const CertificateNotice = 30

// metaSchedCerts is the day (yyyymmdd, UTC) the scheduler last looked for
// expiring certificates: it looks once a day.
const metaSchedCerts = "push.scheduler.certs"

// certificates warns about the certificates of active workers that expire
// within CertificateNotice days (in the worker's zone), once a day. The
// alert's id and the worker's notification's key name the certificate and
// its expiry date, so each certificate is warned about once per expiry
// date, by however many instances and passes; a renewed certificate (a
// new expiry date) is warned about again before it expires.
func (s *Scheduler) certificates(ctx context.Context, now time.Time) error {
	day, _ := strconv.ParseInt(now.UTC().Format("20060102"), 10, 64)
	last, err := s.db.Meta.Int(ctx, metaSchedCerts)
	if err != nil || last >= day {
		return err
	}
	f := store.WorkerFilter{Status: schemas.WorkerActive, Limit: 500}
	for {
		ws, next, err := s.db.Office.Workers(ctx, f)
		if err != nil {
			return err
		}
		for i := range ws {
			if err := s.warnCertificates(ctx, &ws[i], now); err != nil {
				return err
			}
		}
		if next == "" {
			break
		}
		f.After = next
	}
	return s.db.Meta.Raise(ctx, metaSchedCerts, day)
}

func (s *Scheduler) warnCertificates(ctx context.Context, w *schemas.Worker, now time.Time) error {
	loc, err := schemas.LoadZone(w.TimeZone)
	if err != nil {
		loc = time.UTC
	}
	today := now.In(loc).Format(schemas.DateLayout)
	until := now.In(loc).AddDate(0, 0, CertificateNotice).Format(schemas.DateLayout)
	for _, c := range w.Certificates {
		if c.Expires < today || c.Expires > until {
			continue
		}
		cause := fmt.Sprintf("certificate_expiring/%s/%s/%s/%s", w.ID, c.Type, c.Number, c.Expires)
		a := &schemas.Alert{ID: uuid.NewSHA1(nsPush, []byte(cause)).String(), Kind: "certificate_expiring", Team: w.Team, WorkerID: w.ID,
			Priority: "normal", Detail: c.Type + " certificate expires on " + c.Expires, CreatedAt: now}
		if _, err := s.db.Cases.RecordAlert(ctx, a); err != nil {
			return err
		}
		if err := s.relay.Alert(ctx, a); err != nil {
			return err
		}
		u, err := s.relay.workerUser(ctx, w.ID)
		if err != nil {
			return err
		}
		if u == nil {
			continue // no account: the supervisors are told
		}
		title, body := text(u.Locale, "certificate_expiring", time.Time{})
		body = strings.ReplaceAll(body, "{date}", c.Expires)
		if _, err := s.outbox.Enqueue(ctx, &Notification{DedupeKey: cause, UserID: u.ID, Kind: "certificate_expiring",
			Data:  map[string]string{"certificateType": c.Type, "expires": c.Expires},
			Title: title, Body: body, TTL: 7 * 24 * time.Hour}); err != nil {
			return err
		}
	}
	return nil
}
