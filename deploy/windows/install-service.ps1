<#
.SYNOPSIS
    Install (or update) bpo2-bridge as a Windows service running waitress, through NSSM.

.DESCRIPTION
    Why NSSM: the Service Control Manager only runs programs that answer its control protocol.
    bpo2-bridge.exe is a plain console program, so a bare `sc.exe create` would fail with error
    1053 and the process would be killed. NSSM (https://nssm.cc/, one exe, copy it next to the
    venv) is the service: it starts bpo2-bridge.exe, restarts it when it exits, stops it with
    Ctrl+C so waitress shuts down cleanly, and writes its output to rotated log files.

    The settings file location and the secrets are passed as environment variables of the service
    process only (NSSM AppEnvironmentExtra, kept in the service's registry key). The script limits
    that key to SYSTEM, Administrators and the service account. The service runs as the virtual
    account NT SERVICE\<ServiceName> unless -ServiceAccount names another one.

    Run as Administrator. Running it again updates the existing service.

.EXAMPLE
    .\install-service.ps1 -PangoDir C:\msys64\mingw64\bin

.EXAMPLE
    # several web processes on one host plus one scheduler
    .\install-service.ps1 -ServiceName bpo2-bridge-8081 -Port 8081 -NoScheduler
    .\install-service.ps1 -ServiceName bpo2-bridge-8082 -Port 8082 -NoScheduler
    .\install-service.ps1 -ServiceName bpo2-bridge-scheduler -SchedulerOnly
#>
[CmdletBinding()]
param(
    [string]$ServiceName = "bpo2-bridge",
    [string]$InstallDir = "C:\bpo2-bridge",
    [string]$Nssm = "C:\bpo2-bridge\nssm.exe",
    [string]$DataRoot = "C:\ProgramData\bpo2-bridge",
    [string]$ConfigFile = "C:\ProgramData\bpo2-bridge\bpo2-bridge.toml",
    [int]$Port = 8080,
    # web process without the in-process scheduler (when a separate scheduler service runs)
    [switch]$NoScheduler,
    # the standalone scheduler instead of a web process (use another -ServiceName, no -Port)
    [switch]$SchedulerOnly,
    # DOMAIN\user or a gMSA (DOMAIN\name$); empty: the virtual account NT SERVICE\<ServiceName>
    [string]$ServiceAccount = "",
    # folder holding Pango's DLLs, for PDF reports (WeasyPrint)
    [string]$PangoDir = ""
)
$ErrorActionPreference = "Stop"

$exe = Join-Path $InstallDir "venv\Scripts\bpo2-bridge.exe"
foreach ($required in @($exe, $Nssm, $ConfigFile)) {
    if (-not (Test-Path $required)) { throw "not found: $required (see docs/deploy.md)" }
}

function Read-Secret([string]$prompt) {
    $secure = Read-Host -AsSecureString $prompt
    return [System.Net.NetworkCredential]::new("", $secure).Password
}

function New-SecretKey {
    $bytes = New-Object byte[] 32
    [System.Security.Cryptography.RandomNumberGenerator]::Create().GetBytes($bytes)
    return ($bytes | ForEach-Object { $_.ToString("x2") }) -join ""
}

# Secrets come only from the environment; an empty answer leaves that one unset.
$sourcePassword = Read-Secret "BPO2 SQL login password (empty for Windows authentication)"
$secretKey = Read-Secret "Session key (empty: generate one; use the same on every web host)"
if (-not $secretKey) { $secretKey = New-SecretKey }
$smtpPassword = Read-Secret "SMTP password (empty: none)"

$environment = @("BPO2_BRIDGE_CONFIG=$ConfigFile", "BPO2_BRIDGE_SECRET_KEY=$secretKey")
if ($sourcePassword) { $environment += "BPO2_BRIDGE_SOURCE_PASSWORD=$sourcePassword" }
if ($smtpPassword) { $environment += "BPO2_BRIDGE_SMTP_PASSWORD=$smtpPassword" }
if ($PangoDir) { $environment += "WEASYPRINT_DLL_DIRECTORIES=$PangoDir" }

$arguments = "serve --port $Port"
if ($NoScheduler) { $arguments += " --no-scheduler" }
if ($SchedulerOnly) { $arguments = "scheduler" }

if (Get-Service $ServiceName -ErrorAction SilentlyContinue) {
    & $Nssm stop $ServiceName | Out-Null
    & $Nssm set $ServiceName Application $exe | Out-Null
} else {
    & $Nssm install $ServiceName $exe | Out-Null
    if ($LASTEXITCODE -ne 0) { throw "nssm install failed ($LASTEXITCODE)" }
}

$logs = Join-Path $DataRoot "logs"
New-Item -ItemType Directory -Force -Path $logs | Out-Null

& $Nssm set $ServiceName AppParameters $arguments | Out-Null
& $Nssm set $ServiceName AppDirectory $DataRoot | Out-Null
& $Nssm set $ServiceName AppEnvironmentExtra @environment | Out-Null
& $Nssm set $ServiceName DisplayName "bpo2-bridge (BPO2 CRM screens)" | Out-Null
& $Nssm set $ServiceName Start SERVICE_AUTO_START | Out-Null
& $Nssm set $ServiceName AppStdout (Join-Path $logs "service.log") | Out-Null
& $Nssm set $ServiceName AppStderr (Join-Path $logs "service.log") | Out-Null
& $Nssm set $ServiceName AppRotateFiles 1 | Out-Null
& $Nssm set $ServiceName AppRotateOnline 1 | Out-Null
& $Nssm set $ServiceName AppRotateBytes 10485760 | Out-Null
# time for Ctrl+C to let waitress finish open requests before NSSM ends the process
& $Nssm set $ServiceName AppStopMethodConsole 10000 | Out-Null
# syncs yield the CPU to the web processes on the same host (as Nice=10 does on Linux)
$priority = if ($SchedulerOnly) { "BELOW_NORMAL_PRIORITY_CLASS" } else { "NORMAL_PRIORITY_CLASS" }
& $Nssm set $ServiceName AppPriority $priority | Out-Null

if ($ServiceAccount) {
    $account = $ServiceAccount
    $credential = Get-Credential -UserName $ServiceAccount -Message "Password of $ServiceAccount (empty for a gMSA)"
    $password = $credential.GetNetworkCredential().Password
    if ($password) {
        & sc.exe config $ServiceName obj= $ServiceAccount password= $password | Out-Null
    } else {
        & sc.exe config $ServiceName obj= $ServiceAccount | Out-Null
    }
} else {
    $account = "NT SERVICE\$ServiceName"
    # a virtual account needs no password; it exists as soon as the service is configured to use it
    & sc.exe config $ServiceName obj= $account | Out-Null
}
if ($LASTEXITCODE -ne 0) { throw "sc.exe config failed ($LASTEXITCODE)" }

# The data folder (SQLite cache and store, logs) is the only place the service writes.
& icacls.exe $DataRoot /grant "${account}:(OI)(CI)M" | Out-Null

# The secrets sit in the service's Parameters key: readable by SYSTEM, Administrators and the
# service account only (service keys are readable by every user by default).
$key = "HKLM:\SYSTEM\CurrentControlSet\Services\$ServiceName\Parameters"
$acl = Get-Acl $key
$acl.SetAccessRuleProtection($true, $false)
foreach ($who in @("NT AUTHORITY\SYSTEM", "BUILTIN\Administrators")) {
    $rule = New-Object System.Security.AccessControl.RegistryAccessRule($who, "FullControl", "ContainerInherit", "None", "Allow")
    $acl.AddAccessRule($rule)
}
$readRule = New-Object System.Security.AccessControl.RegistryAccessRule($account, "ReadKey", "ContainerInherit", "None", "Allow")
$acl.AddAccessRule($readRule)
Set-Acl -Path $key -AclObject $acl

& $Nssm start $ServiceName | Out-Null
if ($SchedulerOnly) {
    Write-Host "$ServiceName (scheduler) started as $account. Logs: $logs."
    return
}
# the first start creates the application store; give it up to a minute
$health = $null
foreach ($attempt in 1..30) {
    try {
        $health = Invoke-WebRequest "http://127.0.0.1:$Port/healthz" -UseBasicParsing -TimeoutSec 5
        break
    } catch {
        Start-Sleep -Seconds 2
    }
}
if (-not $health) { throw "/healthz did not answer on port $Port; see $logs\service.log" }
Write-Host "$ServiceName is running as $account; /healthz answered $($health.StatusCode)."
Write-Host "Logs: $logs. Next: IIS in front (deploy\iis\web.config), then bpo2-bridge schema check."
