package server_test

import (
	"testing"

	"github.com/sendora/sendora/internal/store/storetest"
)

// The dashboard's routes, headers and cross-site protection on PostgreSQL:
// each test below runs the SQLite test of the same name with the store on a
// fresh PostgreSQL database (skipped without SENDORA_TEST_DATABASE_URL).

func TestCrossSiteRotateRefusedOnPostgres(t *testing.T) {
	storetest.OnPostgres(t, TestCrossSiteRotateRefused)
}
func TestEventsNotBehindCrossOriginProtectionOnPostgres(t *testing.T) {
	storetest.OnPostgres(t, TestEventsNotBehindCrossOriginProtection)
}
func TestInternalErrorPageHidesTheCauseOnPostgres(t *testing.T) {
	storetest.OnPostgres(t, TestInternalErrorPageHidesTheCause)
}
func TestRootRedirectsOnPostgres(t *testing.T) { storetest.OnPostgres(t, TestRootRedirects) }
func TestSecurityHeadersOnEveryPageOnPostgres(t *testing.T) {
	storetest.OnPostgres(t, TestSecurityHeadersOnEveryPage)
}
func TestStaticFilesHashedAndCachedOnPostgres(t *testing.T) {
	storetest.OnPostgres(t, TestStaticFilesHashedAndCached)
}
