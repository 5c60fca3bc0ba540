// The function app's platform authentication (App Service "Easy Auth"): approvers open the
// report linked from the approval mail with their own Entra sign-in. Every path needs a signed-in
// user, except the paths that carry their own authentication: the API routes ticketing systems
// call with a function key, the remediation route (an Entra token checked in process), the host's
// admin endpoints (master key) and the two anonymous documents. The approvers' report route,
// /api/approvals/reports/{runId}, is not excluded, so only a signed-in member of the approvers'
// group reaches it (Entra issues the sign-in token only to principals assigned to the app, and
// the platform's built-in authorization policy admits only tokens whose `groups` claim holds the
// approvers' group). The route checks the same itself (shared/api/approvers.py): how the platform
// matches excludedPaths against dot segments or percent-encoding is not documented.

@description('Function app name.')
param siteName string

@description('Client id of the report sign-in app registration (entra.bicep).')
param clientId string

@description('Object id of the Entra group whose members read the reports.')
param approverGroupId string

resource site 'Microsoft.Web/sites@2024-04-01' existing = {
  name: siteName
}

// A trailing /* covers every path below (MicrosoftDocs/azure-docs#86514). /api/reviews/* must
// not cover the approvers' route, which is why that route lives under /api/approvals.
var ownAuthenticationPaths = [
  '/api/health'
  '/api/openapi.json'
  '/api/swagger.json'
  '/api/reviews'
  '/api/reviews/*'
  '/api/remediations'
  '/api/privileged-reviews/*'
  '/admin/*'
]

resource auth 'Microsoft.Web/sites/config@2024-04-01' = {
  // checkov:skip=CKV_AZURE_13: checkov recognises only the legacy authsettings shape (properties.enabled); this is authsettingsV2 with platform.enabled true, asserted in tests/infra.
  // checkov:skip=CKV_AZURE_222: checkov reads every sites/config resource as a site; public access is decided on the site (see its skip in function-app.bicep).
  // checkov:skip=CKV_AZURE_63: checkov reads every sites/config resource as the 'web' config; HTTP logging is not a setting of this one (telemetry goes to Application Insights).
  // checkov:skip=CKV_AZURE_65: checkov reads every sites/config resource as the 'web' config; detailed error pages are not a setting of this one.
  // checkov:skip=CKV_AZURE_66: checkov reads every sites/config resource as the 'web' config; request tracing is not a setting of this one.
  // checkov:skip=CKV_AZURE_80: checkov reads every sites/config resource as the 'web' config; a Python app on Flex Consumption has no .NET Framework version.
  // checkov:skip=CKV_AZURE_88: checkov reads every sites/config resource as the 'web' config; Flex Consumption mounts no Azure Files share and the app uses blob storage.
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
          // The built-in authorization policy: only a token whose `groups` claim holds the
          // approvers' group (the claim entra.bicep asks for) passes ("Use a built-in
          // authorization policy", configure-authentication-provider-aad in the App Service docs).
          defaultAuthorizationPolicy: {
            allowedPrincipals: {
              groups: [
                approverGroupId
              ]
            }
          }
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
