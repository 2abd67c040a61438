package settings_test

import (
	"testing"

	"github.com/sendora/sendora/internal/store/storetest"
)

// The Profiles and Events pages on PostgreSQL: each test runs the SQLite
// test of the same name with the dashboard's store on a fresh PostgreSQL
// database (skipped without SENDORA_TEST_DATABASE_URL).

func TestProfilesShowAPoisonedProfileOnPostgres(t *testing.T) {
	storetest.OnPostgres(t, TestProfilesShowAPoisonedProfile)
}
func TestEventLogFiltersAndPagesOnPostgres(t *testing.T) {
	storetest.OnPostgres(t, TestEventLogFiltersAndPages)
}
func TestDataPagesRefuseBadRequestsPolitelyOnPostgres(t *testing.T) {
	storetest.OnPostgres(t, TestDataPagesRefuseBadRequestsPolitely)
}
func TestHostileDataOnProfilesAndEventsIsInertOnPostgres(t *testing.T) {
	storetest.OnPostgres(t, TestHostileDataOnProfilesAndEventsIsInert)
}
func TestSignedTraitsOutrankHMACOnPostgres(t *testing.T) {
	storetest.OnPostgres(t, TestSignedTraitsOutrankHMAC)
}
