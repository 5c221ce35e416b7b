// What a new visitor sees: the three operations of a first session, their
// variables, and where the access token goes.

export const startingQuery = `# keycard playground
#
# 1. Run Register (or Login, for an account that exists) with the
#    variables below. Ctrl-Enter runs the operation under the cursor.
# 2. Copy data.register.accessToken into the headers below, in place
#    of the … after "Bearer ".
# 3. Run Me.
#
# Headers and variables are never stored in this browser: a reload
# forgets the token and the password.

mutation Register($input: RegisterInput!) {
  register(input: $input) {
    accessToken
    refreshToken
    expiresIn
    user { id username }
  }
}

mutation Login($input: LoginInput!) {
  login(input: $input) {
    accessToken
    refreshToken
    expiresIn
    user { id username }
  }
}

query Me {
  me { id username email roles createdAt }
}
`;

export const startingVariables = `{
  "input": { "username": "alice", "password": "correct horse battery staple" }
}
`;

// The placeholder is recognised by the fetcher, which sends no
// Authorization header until a token replaces it.
export const tokenPlaceholder = 'Bearer …';

export const headersTemplate = `{
  "Authorization": "${tokenPlaceholder}"
}
`;
