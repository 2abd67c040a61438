package auth_test

import (
	"testing"

	"github.com/sendora/sendora/internal/store/storetest"
)

// Setup, sign-in, sessions, cookies and throttling on PostgreSQL: each test
// below runs the SQLite test of the same name with the dashboard's store on
// a fresh PostgreSQL database (skipped without SENDORA_TEST_DATABASE_URL).

func TestSetupLinkCreatesFirstAdminOnceOnPostgres(t *testing.T) {
	storetest.OnPostgres(t, TestSetupLinkCreatesFirstAdminOnce)
}
func TestSetupLinkExpiresOnPostgres(t *testing.T)   { storetest.OnPostgres(t, TestSetupLinkExpires) }
func TestLoginLogoutAuditedOnPostgres(t *testing.T) { storetest.OnPostgres(t, TestLoginLogoutAudited) }
func TestLoginRedirectsToWhereTheAdminWasGoingOnPostgres(t *testing.T) {
	storetest.OnPostgres(t, TestLoginRedirectsToWhereTheAdminWasGoing)
}
func TestSessionIdleAndAbsoluteLifetimesOnPostgres(t *testing.T) {
	storetest.OnPostgres(t, TestSessionIdleAndAbsoluteLifetimes)
}
func TestSessionSurvivesRestartOnPostgres(t *testing.T) {
	storetest.OnPostgres(t, TestSessionSurvivesRestart)
}
func TestPasswordChangeEndsOtherSessionsOnPostgres(t *testing.T) {
	storetest.OnPostgres(t, TestPasswordChangeEndsOtherSessions)
}
func TestCookieSecureBehindTLSProxyOnPostgres(t *testing.T) {
	storetest.OnPostgres(t, TestCookieSecureBehindTLSProxy)
}
func TestThrottleCannotLockOutTheAdminOnPostgres(t *testing.T) {
	storetest.OnPostgres(t, TestThrottleCannotLockOutTheAdmin)
}
func TestCrossSiteFormsRefusedOnPostgres(t *testing.T) {
	storetest.OnPostgres(t, TestCrossSiteFormsRefused)
}
func TestCreateAdminRulesOnPostgres(t *testing.T)   { storetest.OnPostgres(t, TestCreateAdminRules) }
func TestSessionCookieFlagsOnPostgres(t *testing.T) { storetest.OnPostgres(t, TestSessionCookieFlags) }
func TestCopiedCookieRevokedOnPostgres(t *testing.T) {
	storetest.OnPostgres(t, TestCopiedCookieRevoked)
}
func TestNoSessionFixationOnPostgres(t *testing.T) { storetest.OnPostgres(t, TestNoSessionFixation) }
func TestSignInNeverRedirectsOffSiteOnPostgres(t *testing.T) {
	storetest.OnPostgres(t, TestSignInNeverRedirectsOffSite)
}
func TestThrottleHoldsUnderConcurrentGuessesOnPostgres(t *testing.T) {
	storetest.OnPostgres(t, TestThrottleHoldsUnderConcurrentGuesses)
}
func TestThrottleRevealsNothingOnPostgres(t *testing.T) {
	storetest.OnPostgres(t, TestThrottleRevealsNothing)
}
