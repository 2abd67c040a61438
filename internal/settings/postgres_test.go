package settings_test

import (
	"testing"

	"github.com/sendora/sendora/internal/store/storetest"
)

// Settings → Identity and the audit page on PostgreSQL: each test below
// runs the SQLite test of the same name with the dashboard's store on a
// fresh PostgreSQL database (skipped without SENDORA_TEST_DATABASE_URL).

func TestNoSecretRefusesStrictOnPostgres(t *testing.T) {
	storetest.OnPostgres(t, TestNoSecretRefusesStrict)
}
func TestRotateShowsTheSecretOnceOnPostgres(t *testing.T) {
	storetest.OnPostgres(t, TestRotateShowsTheSecretOnce)
}
func TestRotateResubmitDoesNotRotateAgainOnPostgres(t *testing.T) {
	storetest.OnPostgres(t, TestRotateResubmitDoesNotRotateAgain)
}
func TestRotateWithOverlapShowsPreviousAndPickupOnPostgres(t *testing.T) {
	storetest.OnPostgres(t, TestRotateWithOverlapShowsPreviousAndPickup)
}
func TestRotateRefusesBadOverlapOnPostgres(t *testing.T) {
	storetest.OnPostgres(t, TestRotateRefusesBadOverlap)
}
func TestStrictPreviewAndToggleOnPostgres(t *testing.T) {
	storetest.OnPostgres(t, TestStrictPreviewAndToggle)
}
func TestRecentRejectionsOnPostgres(t *testing.T) { storetest.OnPostgres(t, TestRecentRejections) }
func TestTokenCheckerOnPostgres(t *testing.T)     { storetest.OnPostgres(t, TestTokenChecker) }
func TestProjectSwitcherOnPostgres(t *testing.T)  { storetest.OnPostgres(t, TestProjectSwitcher) }
func TestChartOnPageOnPostgres(t *testing.T)      { storetest.OnPostgres(t, TestChartOnPage) }
func TestAuditPageNewestFirstPagedOnPostgres(t *testing.T) {
	storetest.OnPostgres(t, TestAuditPageNewestFirstPaged)
}
func TestHostileEventDataIsInertOnPostgres(t *testing.T) {
	storetest.OnPostgres(t, TestHostileEventDataIsInert)
}
