# Trust or untrust the OmniRoute CA in the Windows machine Root store (certutil).
# Run from an elevated PowerShell ("Run as administrator").
# usage: .\trust-windows.ps1 trust|untrust CERT_PATH
#   $env:OMNIROUTE_DRY_RUN = "1" prints the commands instead of running them.
param(
    [Parameter(Mandatory = $true, Position = 0)][ValidateSet("trust", "untrust")][string]$Action,
    [Parameter(Mandatory = $true, Position = 1)][string]$CertPath
)
$ErrorActionPreference = "Stop"
$Name = "OmniRoute CA"

function Invoke-Step([string[]]$Command) {
    if ($env:OMNIROUTE_DRY_RUN) { Write-Output ($Command -join " "); return }
    & $Command[0] $Command[1..($Command.Length - 1)]
    if ($LASTEXITCODE -ne 0) { throw "$($Command -join ' ') failed with exit code $LASTEXITCODE" }
}

if ($Action -eq "trust") {
    if (-not (Test-Path -LiteralPath $CertPath -PathType Leaf)) { throw "cannot read $CertPath" }
    Invoke-Step @("certutil", "-addstore", "-f", "Root", $CertPath)
} else {
    Invoke-Step @("certutil", "-delstore", "Root", $Name)
}
