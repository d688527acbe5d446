// Package fieldsyncclient is a Go client of the fieldsync API, generated
// by oapi-codegen from the OpenAPI document the server prints (`go run
// ./server openapi`). Do not edit client.gen.go: regenerate it with
// `go generate ./clients/go`; a test fails when it is stale.
package fieldsyncclient

//go:generate sh -c "go run ../../server openapi > openapi.json && go run github.com/oapi-codegen/oapi-codegen/v2/cmd/oapi-codegen@v2.8.2 -config oapi-codegen.yaml openapi.json; status=$?; rm -f openapi.json; exit $status"
