package ingest_test

import (
	"go/ast"
	"go/parser"
	"go/token"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sendora/sendora/internal/store"
	"github.com/sendora/sendora/internal/store/storetest"
)

// The ingestion contract suite runs on SQLite as written and, below, once
// more on PostgreSQL: each XOnPostgres runs test X's body with newHarness
// opening a fresh PostgreSQL database instead of a SQLite file. Without
// SENDORA_TEST_DATABASE_URL they are skipped (and `make test` lists them).
// TestContractRunsOnPostgres keeps the list complete.

func TestContractSingleOnPostgres(t *testing.T)          { onPostgres(t, TestContractSingle) }
func TestRotatedSecretAndOverlapOnPostgres(t *testing.T) { onPostgres(t, TestRotatedSecretAndOverlap) }
func TestReportOnlyNoSecretOnPostgres(t *testing.T)      { onPostgres(t, TestReportOnlyNoSecret) }
func TestReportOnlyAcceptsAndRecordsOnPostgres(t *testing.T) {
	onPostgres(t, TestReportOnlyAcceptsAndRecords)
}
func TestBatchIndexExactnessOnPostgres(t *testing.T)     { onPostgres(t, TestBatchIndexExactness) }
func TestBatchWholeOnPostgres(t *testing.T)              { onPostgres(t, TestBatchWhole) }
func TestDedupByMessageIDOnPostgres(t *testing.T)        { onPostgres(t, TestDedupByMessageID) }
func TestClockSkewAndReceivedAtOnPostgres(t *testing.T)  { onPostgres(t, TestClockSkewAndReceivedAt) }
func TestCORSPreflightOnPostgres(t *testing.T)           { onPostgres(t, TestCORSPreflight) }
func TestOverloadAnswers503OnPostgres(t *testing.T)      { onPostgres(t, TestOverloadAnswers503) }
func TestRateLimitsOnPostgres(t *testing.T)              { onPostgres(t, TestRateLimits) }
func TestProfilesMergeTraitsOnPostgres(t *testing.T)     { onPostgres(t, TestProfilesMergeTraits) }
func TestAllowedOriginsOnPostgres(t *testing.T)          { onPostgres(t, TestAllowedOrigins) }
func TestRejectionFloodIsBoundedOnPostgres(t *testing.T) { onPostgres(t, TestRejectionFloodIsBounded) }
func TestHostileInputOnPostgres(t *testing.T)            { onPostgres(t, TestHostileInput) }
func TestObserveOutcomesOnPostgres(t *testing.T)         { onPostgres(t, TestObserveOutcomes) }
func TestServerIDsAreNeverRetriesOnPostgres(t *testing.T) {
	onPostgres(t, TestServerIDsAreNeverRetries)
}
func TestPoisonEventInBatchOnPostgres(t *testing.T) { onPostgres(t, TestPoisonEventInBatch) }
func TestNestingBoundaryOnPostgres(t *testing.T)    { onPostgres(t, TestNestingBoundary) }
func TestStoredTimeBoundsOnPostgres(t *testing.T)   { onPostgres(t, TestStoredTimeBounds) }
func TestDeterministicStoreErrorIsIsolatedOnPostgres(t *testing.T) {
	onPostgres(t, TestDeterministicStoreErrorIsIsolated)
}
func TestPoisonAmongConcurrentRequestsOnPostgres(t *testing.T) {
	onPostgres(t, TestPoisonAmongConcurrentRequests)
}
func TestMalformedProfileRefusesOnlyItsIdentifiesOnPostgres(t *testing.T) {
	onPostgres(t, TestMalformedProfileRefusesOnlyItsIdentifies)
}
func TestRateLimitChargesEveryEventOnPostgres(t *testing.T) {
	onPostgres(t, TestRateLimitChargesEveryEvent)
}
func TestRateLimitIPv6ByPrefixOnPostgres(t *testing.T) { onPostgres(t, TestRateLimitIPv6ByPrefix) }
func TestHostileBodiesOnPostgres(t *testing.T)         { onPostgres(t, TestHostileBodies) }
func TestTransientStoreErrorFailsTheGroupFastOnPostgres(t *testing.T) {
	onPostgres(t, TestTransientStoreErrorFailsTheGroupFast)
}

func TestChangesElsewhereApplyAtTheNextReadOnPostgres(t *testing.T) {
	onPostgres(t, TestChangesElsewhereApplyAtTheNextRead)
}
func TestRunReadsAtEachTickOnPostgres(t *testing.T)     { onPostgres(t, TestRunReadsAtEachTick) }
func TestNULRefusedOnEveryStoreOnPostgres(t *testing.T) { onPostgres(t, TestNULRefusedOnEveryStore) }

func onPostgres(t *testing.T, test func(*testing.T)) { storetest.OnPostgres(t, test) }

// newStore is the store a harness for t runs on: PostgreSQL inside
// onPostgres, else SQLite.
func newStore(t testing.TB) *store.Store { return storetest.New(t) }

// TestContractRunsOnPostgres fails when a test that builds a harness has no
// OnPostgres twin above, so the suite cannot quietly run on SQLite alone.
func TestContractRunsOnPostgres(t *testing.T) {
	files, err := filepath.Glob("*_test.go")
	if err != nil {
		t.Fatal(err)
	}
	fset := token.NewFileSet()
	harnessTests := map[string]bool{}
	twins := map[string]bool{}
	for _, f := range files {
		af, err := parser.ParseFile(fset, f, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range af.Decls {
			fn, ok := d.(*ast.FuncDecl)
			if !ok || fn.Recv != nil || fn.Body == nil || !strings.HasPrefix(fn.Name.Name, "Test") {
				continue
			}
			ast.Inspect(fn.Body, func(n ast.Node) bool {
				if call, ok := n.(*ast.CallExpr); ok {
					if id, ok := call.Fun.(*ast.Ident); ok {
						switch id.Name {
						case "newHarness":
							harnessTests[fn.Name.Name] = true
						case "onPostgres":
							if len(call.Args) == 2 {
								if arg, ok := call.Args[1].(*ast.Ident); ok {
									twins[arg.Name] = true
								}
							}
						}
					}
				}
				return true
			})
		}
	}
	for name := range harnessTests {
		if !twins[name] {
			t.Errorf("%s builds a harness but does not run on PostgreSQL: add\n\tfunc %sOnPostgres(t *testing.T) { onPostgres(t, %s) }\nto postgres_test.go", name, name, name)
		}
	}
	if len(harnessTests) < 10 {
		t.Errorf("found only %d harness tests; is the parse right?", len(harnessTests))
	}
}
