// The approval workflow. The function app POSTs a run's medium/high verdicts to the trigger;
// each verdict becomes an approval mail (Office 365 connection) whose HTML body the app renders
// (shared/pipeline/approval_mail.py), with an absolute link to the report the approver opens with
// their own Entra sign-in. On Approve the workflow calls POST /api/remediations with an Entra
// token of its own managed identity, naming the approver and an approval id; on Reject or no
// answer nothing happens. No function key: the route checks that token in process (see
// shared/api/auth.py), so nothing here reads the function host's keys while provisioning.
// The trigger URL carries a signature, so it goes to Key Vault, never to an output.
// A privileged-account review's run (the quarterly timer's) also carries `privilegedReview`: one
// mail asking the approvers to sign the review off, quiet quarter or not, with the report link
// and the sign-off route (Office 365 "Send an email (V2)", POST /v2/Mail,
// https://learn.microsoft.com/en-us/connectors/office365/#send-an-email-(v2)); its sign-offs come
// back through POST /api/approvals/privileged-reviews/{runId}/attestations, not through here.

@description('Logic App (workflow) name.')
param name string

@description('Office 365 API connection name.')
param connectionName string

@description('Azure region.')
param location string

@description('Tags for every resource.')
param tags object

@description('Resource id of the approvals identity the workflow calls the function app with.')
param approvalsId string

@description('Host name of the function app that serves /api/remediations.')
param functionAppHostName string

@description('Token audience the function app accepts (its AUTH_AUDIENCE setting).')
param remediationAudience string

@description('Mailbox or distribution list that approves remediations.')
param approverEmail string

@description('Days an approval mail waits for an answer before the request lapses.')
@minValue(1)
@maxValue(30)
param approvalTimeoutDays int = 7

@description('Key Vault that receives the trigger URL.')
param vaultName string

@description('Name of the Key Vault secret holding the trigger URL.')
param webhookSecretName string

resource vault 'Microsoft.KeyVault/vaults@2023-07-01' existing = {
  name: vaultName
}

// Needs one interactive consent after deployment (see the deploy notes).
resource office365 'Microsoft.Web/connections@2016-06-01' = {
  name: connectionName
  location: location
  tags: tags
  properties: {
    displayName: 'Sign-in review approvals'
    api: {
      id: subscriptionResourceId('Microsoft.Web/locations/managedApis', location, 'office365')
    }
  }
}

var verdictSchema = {
  type: 'object'
  required: [
    'userId'
    'verdict'
    'proposedActions'
    'mailHtml'
  ]
  properties: {
    userId: {
      type: 'string'
    }
    userPrincipalName: {
      type: 'string'
    }
    verdict: {
      type: 'string'
    }
    reasons: {
      type: 'array'
      items: {
        type: 'string'
      }
    }
    proposedActions: {
      type: 'array'
      items: {
        type: 'string'
      }
    }
    mailHtml: {
      type: 'string'
    }
  }
}

var verdict = 'items(\'For_each_verdict\')'

var askApprover = {
  type: 'ApiConnectionWebhook'
  inputs: {
    host: {
      connection: {
        name: '@parameters(\'$connections\')[\'office365\'][\'connectionId\']'
      }
    }
    path: '/approvalmail/$subscriptions'
    body: {
      NotificationUrl: '@{listCallbackUrl()}'
      Message: {
        To: approverEmail
        Subject: '@{concat(\'Sign-in review: approve \', join(${verdict}?[\'proposedActions\'], \', \'), \' for \', ${verdict}?[\'userPrincipalName\'], \'?\')}'
        Options: 'Approve, Reject'
        Importance: 'High'
        HideHTMLMessage: false
        ShowHTMLConfirmationDialog: true
        Body: '@{${verdict}?[\'mailHtml\']}'
      }
    }
  }
  limit: {
    timeout: 'P${approvalTimeoutDays}D'
  }
}

var review = 'triggerBody()?[\'privilegedReview\']'

var askForSignOff = {
  type: 'ApiConnection'
  inputs: {
    host: {
      connection: {
        name: '@parameters(\'$connections\')[\'office365\'][\'connectionId\']'
      }
    }
    method: 'post'
    path: '/v2/Mail'
    body: {
      To: approverEmail
      Subject: '@{${review}?[\'subject\']}'
      Body: '@{${review}?[\'mailHtml\']}'
      Importance: 'Normal'
    }
  }
}

var callRemediations = {
  type: 'Http'
  inputs: {
    method: 'POST'
    uri: 'https://${functionAppHostName}/api/remediations'
    headers: {
      'Content-Type': 'application/json'
    }
    body: {
      runId: '@triggerBody()?[\'runId\']'
      userId: '@${verdict}?[\'userId\']'
      actions: '@${verdict}?[\'proposedActions\']'
      approver: '@body(\'Ask_approver\')?[\'UserEmailAddress\']'
      approvalId: '@{workflow().run.name}:@{${verdict}?[\'userId\']}'
      comment: '@{concat(\'Approved by mail in workflow run \', workflow().run.name)}'
    }
    authentication: {
      type: 'ManagedServiceIdentity'
      identity: approvalsId
      audience: remediationAudience
    }
    retryPolicy: {
      type: 'exponential'
      count: 6
      interval: 'PT30S'
    }
  }
  runtimeConfiguration: {
    secureData: {
      properties: [
        'inputs'
      ]
    }
  }
}

resource workflow 'Microsoft.Logic/workflows@2019-05-01' = {
  name: name
  location: location
  tags: tags
  identity: {
    type: 'UserAssigned'
    userAssignedIdentities: {
      '${approvalsId}': {}
    }
  }
  properties: {
    state: 'Enabled'
    definition: {
      '$schema': 'https://schema.management.azure.com/providers/Microsoft.Logic/schemas/2016-06-01/workflowdefinition.json#'
      contentVersion: '1.0.0.0'
      parameters: {
        '$connections': {
          type: 'Object'
          defaultValue: {}
        }
      }
      triggers: {
        manual: {
          type: 'Request'
          kind: 'Http'
          inputs: {
            method: 'POST'
            schema: {
              type: 'object'
              required: [
                'runId'
                'verdicts'
              ]
              properties: {
                runId: {
                  type: 'string'
                }
                reportUrl: {
                  type: 'string'
                }
                privilegedReview: {
                  type: 'object'
                  properties: {
                    subject: {
                      type: 'string'
                    }
                    mailHtml: {
                      type: 'string'
                    }
                  }
                }
                verdicts: {
                  type: 'array'
                  items: verdictSchema
                }
              }
            }
          }
        }
      }
      actions: {
        If_privileged_review: {
          type: 'If'
          runAfter: {}
          expression: {
            and: [
              {
                not: {
                  equals: [
                    '@${review}'
                    '@null'
                  ]
                }
              }
            ]
          }
          actions: {
            Ask_for_sign_off: askForSignOff
          }
          else: {
            actions: {}
          }
        }
        For_each_verdict: {
          type: 'Foreach'
          foreach: '@triggerBody()?[\'verdicts\']'
          runAfter: {}
          actions: {
            Ask_approver: askApprover
            If_approved: {
              type: 'If'
              runAfter: {
                Ask_approver: [
                  'Succeeded'
                ]
              }
              expression: {
                and: [
                  {
                    equals: [
                      '@body(\'Ask_approver\')?[\'SelectedOption\']'
                      'Approve'
                    ]
                  }
                ]
              }
              actions: {
                Call_remediations: callRemediations
              }
              else: {
                actions: {}
              }
            }
          }
        }
      }
      outputs: {}
    }
    parameters: {
      '$connections': {
        value: {
          office365: {
            connectionId: office365.id
            connectionName: office365.name
            id: office365.properties.api.id
          }
        }
      }
    }
  }
}

resource trigger 'Microsoft.Logic/workflows/triggers@2019-05-01' existing = {
  parent: workflow
  name: 'manual'
}

resource webhookSecret 'Microsoft.KeyVault/vaults/secrets@2023-07-01' = {
  // checkov:skip=CKV_AZURE_41: the trigger URL does not expire; an expired secret would stop Key Vault resolving the setting and silently stop approvals. Rotate by regenerating the workflow's access keys and redeploying.
  parent: vault
  name: webhookSecretName
  properties: {
    value: trigger.listCallbackUrl().value
    contentType: 'text/uri-list'
  }
}

output name string = workflow.name
// The secret's address (no version, so the newest value), not its value: the app settings module
// takes it from here, which makes the settings wait for the secret.
output webhookVaultUri string = webhookSecret.properties.secretUri
