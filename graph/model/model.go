// Package model holds the Go types gqlgen generates from the GraphQL schema
// (models_gen.go; do not edit, regenerate). It imports only gqlgen; package
// graph maps auth's entities onto these types.
package model
