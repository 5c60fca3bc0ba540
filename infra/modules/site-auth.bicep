// The function app's platform authentication (App Service "Easy Auth"): approvers open the
// report linked from the approval mail with their own Entra sign-in. Every path needs a signed-in
// user, except the paths that carry their own authentication: the API routes ticketing systems
// call with a function key, the remediation route (an Entra token checked in process), the host's
// admin endpoints (master key) and the two anonymous documents. The approvers' report route,
// /api/approvals/reports/{runId}, is not excluded, so only a signed-in member of the approvers'
// group reaches it (Entra issues the sign-in token only to principals assigned to the app).

@description('Function app name.')
param siteName string

@description('Client id of the report sign-in app registration (entra.bicep).')
param clientId string

resource site 'Microsoft.Web/sites@2024-04-01' existing = {
  name: siteName
}

// A trailing /* covers every path below (MicrosoftDocs/azure-docs#86514). /api/reviews/* must
// not cover the approvers' route, which is why that route lives under /api/approvals.
var ownAuthenticationPaths = [
  '/api/health'
  '/api/openapi.json'
  '/api/reviews'
  '/api/reviews/*'
  '/api/remediations'
  '/admin/*'
]

resource auth 'Microsoft.Web/sites/config@2024-04-01' = {
  parent: site
  name: 'authsettingsV2'
  properties: {
    platform: {
      enabled: true
    }
    globalValidation: {
      requireAuthentication: true
      unauthenticatedClientAction: 'RedirectToLoginPage'
      redirectToProvider: 'azureactivedirectory'
      excludedPaths: ownAuthenticationPaths
    }
    identityProviders: {
      azureActiveDirectory: {
        enabled: true
        registration: {
          clientId: clientId
          openIdIssuer: '${environment().authentication.loginEndpoint}${tenant().tenantId}/v2.0'
        }
        validation: {
          allowedAudiences: [
            clientId
          ]
        }
      }
    }
    login: {
      tokenStore: {
        enabled: false
      }
    }
    httpSettings: {
      requireHttps: true
    }
  }
}
