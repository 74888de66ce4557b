package pushgate

// Run runs the command line with args, for the tests of package
// pushgate_test.
var Run = run

// WithDev is what serve --dev adds, for the tests of package pushgate_test.
var WithDev = withDev

// RedactDSN is what serve logs of the database DSN.
var RedactDSN = redactDSN
