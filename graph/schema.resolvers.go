package graph

import (
	"context"

	"github.com/keycard/keycard/auth"
	"github.com/keycard/keycard/graph/model"
)

func (r *mutationResolver) Register(ctx context.Context, input model.RegisterInput) (*model.AuthPayload, error) {
	grant, err := r.Service.Register(ctx, auth.RegisterInput{
		Username: input.Username,
		Password: input.Password,
		Email:    input.Email,
	}, auth.ClientFrom(ctx))
	if err != nil {
		return nil, err
	}
	return authPayload(grant), nil
}

func (r *mutationResolver) Login(ctx context.Context, input model.LoginInput) (*model.AuthPayload, error) {
	grant, err := r.Service.Login(ctx, input.Username, input.Password, auth.ClientFrom(ctx))
	if err != nil {
		return nil, err
	}
	return authPayload(grant), nil
}

func (r *mutationResolver) Refresh(ctx context.Context, token *string) (*model.AuthPayload, error) {
	var presented string
	if token != nil {
		presented = *token
	}
	grant, err := r.Service.Refresh(ctx, presented, auth.ClientFrom(ctx))
	if err != nil {
		return nil, err
	}
	return authPayload(grant), nil
}

func (r *mutationResolver) Logout(ctx context.Context, scope *model.LogoutScope) (bool, error) {
	c, err := claims(ctx)
	if err != nil {
		return false, err
	}
	logoutScope := auth.LogoutCurrent
	if scope != nil && *scope == model.LogoutScopeAll {
		logoutScope = auth.LogoutAll
	}
	if err := r.Service.Logout(ctx, c, logoutScope); err != nil {
		return false, err
	}
	return true, nil
}

func (r *queryResolver) Me(ctx context.Context) (*auth.User, error) {
	c, err := claims(ctx)
	if err != nil {
		return nil, err
	}
	return r.Service.Me(ctx, c)
}

// Mutation returns MutationResolver implementation.
func (r *Resolver) Mutation() MutationResolver { return &mutationResolver{r} }

// Query returns QueryResolver implementation.
func (r *Resolver) Query() QueryResolver { return &queryResolver{r} }

type mutationResolver struct{ *Resolver }
type queryResolver struct{ *Resolver }
